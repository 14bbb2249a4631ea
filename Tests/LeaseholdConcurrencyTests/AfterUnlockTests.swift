import LeaseholdConcurrency
import Synchronization
import Testing

@Suite("Work queued under a lock runs after the unlock")
struct AfterUnlockTests {
    struct State: AfterUnlockState {
        var log: [String] = []
        var afterUnlock = AfterUnlock()
    }

    /// A mutex that the queued actions can reach, as an owner's `self` would be.
    final class Owner: Sendable {
        let state = Mutex(State())

        /// Takes the lock: from inside a critical section this would deadlock.
        func log(_ line: String) { self.state.withLock { $0.log.append(line) } }

        var log: [String] { self.state.withLock { $0.log } }
    }

    @Test("queued actions run in order, once, with the lock free to take again")
    func runsAfterUnlock() {
        let owner = Owner()
        let result = owner.state.withLockThenRun { state -> Int in
            state.log.append("locked")
            state.afterUnlock.append { owner.log("first") }
            state.afterUnlock.append { owner.log("second") }
            return 7
        }
        #expect(result == 7)
        #expect(owner.log == ["locked", "first", "second"])
        // Taken: a later critical section runs nothing of the earlier one.
        owner.state.withLockThenRun { $0.log.append("again") }
        #expect(owner.log == ["locked", "first", "second", "again"])
    }

    @Test("a critical section that throws runs nothing; what it queued waits for the next one")
    func throwing() {
        struct Refused: Error {}
        let owner = Owner()
        #expect(throws: Refused.self) {
            try owner.state.withLockThenRun { state in
                state.afterUnlock.append { owner.log("queued before the throw") }
                throw Refused()
            }
        }
        #expect(owner.log.isEmpty)
        owner.state.withLockThenRun { _ in }
        #expect(owner.log == ["queued before the throw"])
    }
}
