import Foundation
import LeaseholdConcurrency
import Synchronization
import Testing

@Suite("Wake-ups put off until the end of a thread's batch")
struct WakeupBatchTests {
    /// What happened, in order, from any thread.
    final class Log: Sendable {
        private let entries = Mutex<[String]>([])
        func append(_ entry: String) { self.entries.withLock { $0.append(entry) } }
        var lines: [String] { self.entries.withLock { $0 } }
    }

    /// Records each wake-up in a shared log.
    final class Queue: DeferredWakeup {
        let name: String
        let log: Log

        init(_ name: String, log: Log) {
            self.name = name
            self.log = log
        }

        func wakeNow() { self.log.append("wake \(self.name)") }
    }

    @Test("outside a batch nothing is put off: the caller wakes its consumer itself")
    func outsideBatch() {
        let log = Log()
        #expect(!WakeupBatch.putOff(Queue("a", log: log)))
        #expect(log.lines.isEmpty)
    }

    @Test("inside a batch wake-ups wait for its end, then run once each, in order")
    func insideBatch() {
        let log = Log()
        let first = Queue("a", log: log)
        let second = Queue("b", log: log)
        let value = WakeupBatch.run { () -> Int in
            #expect(WakeupBatch.putOff(second))
            #expect(WakeupBatch.putOff(first))
            log.append("body done")
            return 7
        }
        #expect(value == 7)
        #expect(log.lines == ["body done", "wake b", "wake a"])
        // The batch is over: the next wake-up is not put off, and nothing is woken twice.
        #expect(!WakeupBatch.putOff(first))
        WakeupBatch.run {}
        #expect(log.lines == ["body done", "wake b", "wake a"])
    }

    @Test("nested batches wake at the end of the outermost one, also when the body throws")
    func nested() {
        struct Failed: Error {}
        let log = Log()
        let queue = Queue("a", log: log)
        #expect(throws: Failed.self) {
            try WakeupBatch.run {
                WakeupBatch.run { #expect(WakeupBatch.putOff(queue)) }
                log.append("inner done")
                throw Failed()
            }
        }
        #expect(log.lines == ["inner done", "wake a"])
    }

    @Test("a batch belongs to its thread: another thread's wake-ups are not put off")
    func perThread() {
        let log = Log()
        let queue = Queue("a", log: log)
        let other = Log()
        WakeupBatch.run {
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                other.append("put off: \(WakeupBatch.putOff(queue))")
                done.signal()
            }
            thread.start()
            done.wait()
        }
        #expect(other.lines == ["put off: false"])
        #expect(log.lines.isEmpty)
    }
}
