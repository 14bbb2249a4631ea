// The store's share of every mutating RPC: one group commit on the writer thread. `synchronous=NORMAL` in WAL mode
// syncs only at checkpoints, so these figures are about the CPU of a commit, not the disk.
import Benchmark
import Dispatch
import Foundation
import LeaseholdCore
import LeaseholdStore
import Logging

let storeMetrics: [BenchmarkMetric] = [.instructions, .mallocCountTotal, .wallClock]

/// An open store on a temporary file, and the next revision to write (revisions must only go up).
final class StoreFixture {
    let directory: URL
    let store: SQLiteStore
    var revision: UInt64 = 0

    init() {
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("leasehold-store-bench-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
            // Retention is set far out so that pruning, a separate job of the writer, stays out of the figures.
            let configuration = SQLiteStore.Configuration(
                path: self.directory.appendingPathComponent("bench.db").path,
                synchronous: .normal,
                eventRetention: 100_000_000
            )
            self.store = try SQLiteStore(
                configuration: configuration,
                logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        } catch {
            fatalError("cannot open a store in \(self.directory.path): \(error)")
        }
    }

    /// `pairs` grants and their releases on `pairs` keys: the mutations of `pairs` acquire + release pairs.
    func batch(pairs: Int) -> [Mutation] {
        var mutations: [Mutation] = []
        mutations.reserveCapacity(pairs * 2)
        for kind in [Event.Kind.acquired, .released] {
            for index in 0..<pairs {
                self.revision += 1
                let token = kind == .acquired ? self.revision : self.revision - UInt64(pairs)
                mutations.append(
                    .event(
                        Event(
                            revision: self.revision,
                            kind: kind,
                            key: "bench/store/\(index)",
                            sessionID: SessionID(UInt64(index + 1)),
                            fencingToken: token,
                            owner: "bench",
                            at: WallTime(millisecondsSince1970: 1_767_225_600_000)
                        )
                    )
                )
            }
        }
        return mutations
    }

    /// Submits one batch and waits until it is committed.
    func commit(_ mutations: [Mutation]) {
        let done = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        self.store.submit(mutations) { result in
            if case .failure(let error) = result { failure.set(error) }
            done.signal()
        }
        done.wait()
        if let error = failure.error { fatalError("commit failed: \(error)") }
    }

    func close() {
        self.store.close()
        try? FileManager.default.removeItem(at: self.directory)
    }
}

/// Carries a commit's error from the writer thread to the waiting benchmark thread.
final class ErrorBox: @unchecked Sendable {
    // Written before the semaphore is signalled and read after it is waited on: the semaphore orders the two.
    private(set) var error: (any Error)?
    func set(_ error: any Error) { self.error = error }
}

let benchmarks: @Sendable () -> Void = {
    for pairs in [1, 32] {
        let fixture = StoreFixture()
        Benchmark(
            "commit \(pairs * 2) events (\(pairs) grants + \(pairs) releases) in one transaction",
            configuration: .init(metrics: storeMetrics, maxDuration: .seconds(2)),
            closure: { benchmark in
                let mutations = fixture.batch(pairs: pairs)
                benchmark.startMeasurement()
                fixture.commit(mutations)
            },
            teardown: { fixture.close() }
        )
    }
}
