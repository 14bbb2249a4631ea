import LeaseholdCore
import LeaseholdPostgres
import LeaseholdStore
import LeaseholdTestUtilities
import Synchronization
import Testing

/// The same test bodies against every ``Store``: what the lock service relies on, whichever store is under it.
@Suite("Store conformance")
struct StoreConformanceTests {
    @Test("load returns what was committed, after a reopen", arguments: StoreKind.allCases)
    func loadAfterReopen(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { fixture.remove() }
        var store = try await fixture.open()
        #expect(try store.load() == .empty)
        try await store.commit([.openSession(session(1)), .openSession(session(2, ttl: .seconds(30)))])
        try await store.commit([event(1, .acquired, "a", session: 1), event(2, .acquired, "b", session: 2)])
        try await store.commit([event(3, .released, "a", session: 1, token: 1)])
        try await store.commit([event(4, .expired, "b", session: 2, token: 2), .removeSession(SessionID(2))])
        try await store.commit([event(5, .acquired, "c", session: 1)])
        await store.closeAndWait()

        store = try await fixture.open()
        defer { store.close() }
        let state = try store.load()
        #expect(state.revision == 5)
        #expect(state.lastSessionID == SessionID(2))
        #expect(state.sessions == [session(1)])
        #expect(state.locks.map(\.key) == ["c"])
        #expect(state.locks.first?.fencingToken == 5)
        #expect(state.locks.first?.sessionTTL == .seconds(10))
        #expect(state.locks.first?.acquiredAt == WallTime(millisecondsSince1970: testEpochMilliseconds + 5))
    }

    @Test("batches submitted together all complete, in order, and are all durable", arguments: StoreKind.allCases)
    func groupCommit(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { fixture.remove() }
        let store = try await fixture.open()
        defer { store.close() }
        let count = 200
        let completed = Mutex<[Int]>([])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for index in 1...count {
                let id = UInt64(index)
                store.submit([.openSession(session(id)), event(id, .acquired, "k/\(index)", session: id)]) { result in
                    let all = completed.withLock { list -> Bool in
                        if case .success = result { list.append(index) }
                        return list.count == count
                    }
                    if all { done.resume() }
                }
            }
        }
        #expect(completed.withLock { $0 } == Array(1...count))
        let state = try store.load()
        #expect(state.revision == UInt64(count))
        #expect(state.sessions.count == count)
        #expect(state.locks.count == count)
        // An empty batch is a barrier: it completes once everything before it is durable.
        try await store.commit([])
    }

    @Test(
        "each group commit is counted once with the batches it carried, a failed one too, a barrier never",
        arguments: StoreKind.allCases
    )
    func commitStatistics(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { fixture.remove() }
        let store = try await fixture.open()
        defer { store.close() }
        #expect(store.commitStatistics == CommitStatistics())

        try await store.commit([.openSession(session(1))])
        var commits = store.commitStatistics
        #expect(commits.commitSeconds.count == 1)
        #expect(commits.batchSizes.count == 1)
        #expect(commits.batchSizes.sum == 1)
        #expect(commits.batchSizes.cumulativeCounts.first == 1)  // the bucket `le="1"`
        #expect(commits.commitSeconds.sum > 0)

        // A barrier commits nothing, so it times nothing.
        try await store.commit([])
        #expect(store.commitStatistics == commits)

        // Batches submitted at once: however the writer groups them, every batch is counted in exactly one
        // transaction, and each transaction has one duration.
        let count = 40
        let completed = Mutex(0)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            for index in 1...count {
                let id = UInt64(index)
                store.submit([event(id, .acquired, "k/\(index)", session: 1)]) { _ in
                    if completed.withLock({ count in
                        count += 1
                        return count
                    }) == count {
                        done.resume()
                    }
                }
            }
        }
        commits = store.commitStatistics
        #expect(commits.batchSizes.sum == Double(1 + count))
        #expect(commits.commitSeconds.count == commits.batchSizes.count)
        #expect((2...(1 + count)).contains(Int(commits.batchSizes.count)))

        // A refused commit (its revision does not move forward) is timed and counted as well.
        let refused = await store.commitResult([event(1, .released, "k/1", session: 1, token: 1)])
        #expect(throws: (any Error).self) { try refused.get() }
        let after = store.commitStatistics
        #expect(after.commitSeconds.count == commits.commitSeconds.count + 1)
        #expect(after.batchSizes.sum == commits.batchSizes.sum + 1)
    }

    @Test(
        "a commit whose revisions do not move forward fails, writes nothing, and the store carries on",
        arguments: StoreKind.allCases
    )
    func revisionGuardAndRecovery(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { fixture.remove() }
        let store = try await fixture.open()
        defer { store.close() }
        try await store.commit([.openSession(session(1)), event(1, .acquired, "a", session: 1)])

        // The same revision again, together with a new session: nothing of the batch may remain.
        let repeated = await store.commitResult([.openSession(session(2)), event(1, .acquired, "b", session: 1)])
        #expect(throws: (any Error).self) { try repeated.get() }
        // Revisions going backwards inside one batch.
        let backwards = await store.commitResult([
            event(3, .acquired, "c", session: 1), event(2, .acquired, "d", session: 1),
        ])
        #expect(throws: (any Error).self) { try backwards.get() }

        try await store.commit([event(2, .released, "a", session: 1, token: 1)])
        let state = try store.load()
        #expect(state.revision == 2)
        #expect(state.sessions.map(\.id) == [SessionID(1)])
        #expect(state.locks.isEmpty)
        let page = try await store.events(prefix: "", from: 1, limit: 10)
        #expect(page.events.map(\.revision) == [1, 2])
        #expect(page.events.map(\.key) == ["a", "a"])
    }

    @Test(
        "a barrier's completion may block and reload the state, as the lock service's recovery does",
        arguments: StoreKind.allCases
    )
    func barrierCompletionMayLoad(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { fixture.remove() }
        let store = try await fixture.open()
        defer { store.close() }
        let loaded = Mutex<Result<PersistedState, any Error>?>(nil)
        let order = Mutex<[String]>([])
        // A batch, a barrier that calls the blocking load() in its completion, and a batch after it: the
        // barrier's completion must not hold up the store's own I/O (load needs it), nor run out of order.
        let finished = await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            let once = Mutex<CheckedContinuation<Bool, Never>?>(done)
            store.submit([.openSession(session(1)), event(1, .acquired, "a", session: 1)]) { _ in
                order.withLock { $0.append("first") }
            }
            store.submit([]) { _ in
                let result = Result { try store.load() }
                loaded.withLock { $0 = result }
                order.withLock { $0.append("barrier") }
            }
            store.submit([event(2, .released, "a", session: 1)]) { _ in
                order.withLock { $0.append("second") }
                once.withLock { $0.take() }?.resume(returning: true)
            }
            Task {
                try? await Task.sleep(for: .seconds(20))
                once.withLock { $0.take() }?.resume(returning: false)
            }
        }
        #expect(finished, "the batch after the barrier did not complete within 20 s")
        #expect(order.withLock { $0 } == ["first", "barrier", "second"])
        // At least everything before the barrier is durable (the batch after it may be too, in the same group).
        let state = try #require(try loaded.withLock { $0 }?.get())
        #expect(state.revision >= 1)
        #expect(state.sessions.map(\.id) == [SessionID(1)])
    }

    @Test("a session id at or below the highest one is refused", arguments: StoreKind.allCases)
    func sessionCounterGuard(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { fixture.remove() }
        let store = try await fixture.open()
        defer { store.close() }
        try await store.commit([.openSession(session(5))])
        try await store.commit([.removeSession(SessionID(5))])
        let reused = await store.commitResult([.openSession(session(5))])
        #expect(throws: (any Error).self) { try reused.get() }
        try await store.commit([.openSession(session(6))])
        let state = try store.load()
        #expect(state.lastSessionID == SessionID(6))
        #expect(state.sessions.map(\.id) == [SessionID(6)])
    }

    @Test("catch-up reads filter by prefix, start inclusive, and respect the limit", arguments: StoreKind.allCases)
    func catchUpReads(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { fixture.remove() }
        let store = try await fixture.open()
        defer { store.close() }
        try await store.commit([.openSession(session(1))])
        try await store.commit([
            event(1, .acquired, "jobs/1", session: 1), event(2, .acquired, "other", session: 1),
            event(3, .acquired, "jobs/2", session: 1), event(4, .released, "jobs/1", session: 1, token: 1),
            event(5, .acquired, "jobsx", session: 1), event(6, .forceReleased, "jobs/2", session: 1, token: 3),
        ])
        try await Self.checkCatchUp(store)
    }

    private static func checkCatchUp(_ store: any Store) async throws {
        let jobs = try await store.events(prefix: "jobs/", from: 1, limit: 100)
        try #require(jobs.events.map(\.revision) == [1, 3, 4, 6])
        #expect(jobs.events.map(\.kind) == [.acquired, .acquired, .released, .forceReleased])
        #expect(jobs.events[2].fencingToken == 1)
        #expect(jobs.compactRevision == 1)
        let fromThree = try await store.events(prefix: "jobs/", from: 3, limit: 2)
        #expect(fromThree.events.map(\.revision) == [3, 4])
        let all = try await store.events(prefix: "", from: 2, limit: 100)
        #expect(all.events.map(\.revision) == [2, 3, 4, 5, 6])
        #expect(try await store.events(prefix: "", from: 7, limit: 100).events.isEmpty)
        #expect(try await store.events(prefix: "", from: 1, limit: 0).events.isEmpty)
        #expect(try await store.events(prefix: "nothing/", from: 1, limit: 10).events.isEmpty)
    }

    @Test("retention prunes the oldest events only and reports the compact revision", arguments: StoreKind.allCases)
    func retention(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind, eventRetention: 10, retentionChunkSize: 4)
        defer { fixture.remove() }
        let store = try await fixture.open()
        defer { store.close() }
        try await store.commit([.openSession(session(1))])
        var revision: UInt64 = 0
        for round in 0..<12 {
            let key = "r/\(round)"
            try await store.commit([
                event(revision + 1, .acquired, key, session: 1),
                event(revision + 2, .released, key, session: 1, token: revision + 1),
            ])
            revision += 2
        }
        try await store.enforceRetention()
        let page = try await store.events(prefix: "", from: 1, limit: 100)
        #expect(page.compactRevision == revision - 9)
        #expect(page.events.map(\.revision) == Array((revision - 9)...revision))
        // The revision never goes back, whatever was pruned.
        #expect(try store.load().revision == revision)
    }

    @Test("a closed store refuses work with StoreClosed", arguments: StoreKind.allCases)
    func closed(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        defer { fixture.remove() }
        let store = try await fixture.open()
        await store.closeAndWait()
        let result = await store.commitResult([.openSession(session(1))])
        #expect(throws: StoreClosed.self) { try result.get() }
    }
}
