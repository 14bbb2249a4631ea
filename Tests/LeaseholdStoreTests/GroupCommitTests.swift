import Dispatch
import LeaseholdCore
import LeaseholdSQLite
import Synchronization
import Testing

@testable import LeaseholdStore

@Suite("SQLiteStore group commit, barriers and failures")
struct GroupCommitTests {
    /// One completion: which thread submitted, its sequence number on that thread, its global queue position.
    struct Completed: Sendable {
        var thread: Int
        var sequence: Int
        var position: Int
        var succeeded: Bool
    }

    /// Submits `threads × perThread` one-session batches from many threads at once. Each submission takes a global
    /// position under a lock, so the queue order is known.
    private func submitConcurrently(
        to store: SQLiteStore,
        threads: Int,
        perThread: Int,
        firstSessionID: UInt64
    ) -> (Recorder<Completed>, submitted: Recorder<Int>) {
        let completed = Recorder<Completed>()
        let submitted = Recorder<Int>()
        let position = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for sequence in 0..<perThread {
                position.withLock { position in
                    let mine = position
                    position += 1
                    submitted.append(mine)
                    let session = Fixture.session(firstSessionID + UInt64(mine))
                    store.submit([.openSession(session)]) { result in
                        let succeeded = (try? result.get()) != nil
                        completed.append(
                            Completed(thread: thread, sequence: sequence, position: mine, succeeded: succeeded)
                        )
                    }
                }
            }
        }
        return (completed, submitted)
    }

    @Test("200 batches queued from 8 threads while the writer is busy all commit in one transaction, in order")
    func groupedWhileBusy() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file())
        defer { store.close() }
        let gate = WriterGate(holding: store)
        let (completed, submitted) = self.submitConcurrently(to: store, threads: 8, perThread: 25, firstSessionID: 1)
        gate.release()
        try await store.commit([])  // a barrier: every earlier completion has run when it completes

        let results = completed.all
        #expect(results.count == 200)
        #expect(results.allSatisfy { $0.succeeded })
        #expect(results.map(\.position) == submitted.all, "completions run in queue order")
        for thread in 0..<8 {
            #expect(results.filter { $0.thread == thread }.map(\.sequence) == Array(0..<25))
        }
        let statistics = store.statistics
        #expect(statistics.transactions == 1)
        #expect(statistics.batches == 202)  // the gate's barrier, 200 batches, the final barrier
        #expect(try store.load().sessions.count == 200)
        #expect(try store.load().lastSessionID == SessionID(200))
    }

    @Test("200 concurrent submissions without a gate all complete, in submission order per thread")
    func concurrentSubmissions() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file())
        defer { store.close() }
        let (completed, submitted) = self.submitConcurrently(to: store, threads: 10, perThread: 20, firstSessionID: 1)
        try await store.commit([])

        let results = completed.all
        #expect(results.count == 200)
        #expect(results.allSatisfy { $0.succeeded })
        #expect(results.map(\.position) == submitted.all)
        for thread in 0..<10 {
            #expect(results.filter { $0.thread == thread }.map(\.sequence) == Array(0..<20))
        }
        let statistics = store.statistics
        #expect(statistics.batches == 201)
        #expect(statistics.transactions >= 1)
        #expect(statistics.transactions <= 200)
        #expect(try store.load().sessions.count == 200)
    }

    @Test("an empty batch is a barrier: alone it costs no transaction; queued, it completes after earlier batches")
    func barriers() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file())
        defer { store.close() }
        try await store.commit([])
        #expect(store.statistics.transactions == 0)
        #expect(store.statistics.batches == 1)

        let order = Recorder<String>()
        let gate = WriterGate(holding: store)
        store.submit([.openSession(Fixture.session(1))]) { _ in order.append("A") }
        store.submit([]) { result in
            // The barrier's earlier batch is durable and visible to a reader now.
            let sessions = (try? store.load().sessions.count) ?? -1
            order.append((try? result.get()) != nil ? "barrier sees \(sessions)" : "barrier failed")
        }
        store.submit([.openSession(Fixture.session(2))]) { _ in order.append("C") }
        gate.release()
        try await store.commit([])
        #expect(order.all.first == "A")
        #expect(order.all.dropFirst().first?.hasPrefix("barrier sees") == true)
        #expect(order.all.dropFirst().first != "barrier sees 0")
        #expect(order.all.last == "C")
        #expect(store.statistics.transactions == 1)
    }

    @Test(
        "a constraint failure rolls back the whole group, fails every batch in it but barriers, and later commits succeed"
    )
    func constraintFailure() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file())
        defer { store.close() }
        try await store.commit([.openSession(Fixture.session(1)), .event(Fixture.event(1, .acquired, "k", session: 1))])
        let before = try store.load()
        let eventsBefore = try await store.allEvents()

        let first: [Mutation] = [
            .openSession(Fixture.session(2)), .event(Fixture.event(2, .acquired, "x", session: 2)),
        ]
        // "k" is held: a second acquired event for it violates the locks primary key.
        let bad: [Mutation] = [.event(Fixture.event(3, .acquired, "k", session: 2))]
        let last: [Mutation] = [.openSession(Fixture.session(3))]
        let results = Recorder<Result<Void, any Error>>()
        let gate = WriterGate(holding: store)
        // The barrier shares the failing group, yet succeeds: it only waits for the batches before it.
        for batch in [first, [], bad, last] { store.submit(batch) { results.append($0) } }
        gate.release()
        try await store.commit([])

        #expect(results.all.count == 4)
        #expect(throws: Never.self) { try results.all[1].get() }
        for (index, result) in results.all.enumerated() where index != 1 {
            let error = try #require(throws: SQLiteError.self) { try result.get() }
            #expect(error.resultCode == .constraintPrimaryKey)
            #expect(error.primaryResultCode == .constraint)
            #expect(error.sql?.contains("INSERT INTO locks") == true)
        }
        #expect(try store.load() == before)
        #expect(try await store.allEvents() == eventsBefore)
        #expect(store.statistics.failedTransactions == 1)
        #expect(store.statistics.failedBatches == 3)

        try await store.commit(first)
        try await store.commit(last)
        let after = try store.load()
        #expect(after.revision == 2)
        #expect(after.sessions.map(\.id) == [SessionID(1), SessionID(2), SessionID(3)])
        #expect(after.locks.map(\.key) == ["k", "x"])
    }

    @Test("a revision or session id that is not above the stored one is refused, even once its row was pruned")
    func countersOnlyMoveForward() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file(), eventRetention: 1)
        defer { store.close() }
        try await store.commit([.openSession(Fixture.session(1))] + Fixture.alternatingEvents(count: 3))
        try await store.enforceRetention()
        #expect(try await store.allEvents().events.map(\.revision) == [3])
        let before = try store.load()

        // Events are checked by the group commit itself (one guarded UPDATE of meta per commit), sessions by triggers.
        let refused: [(String, [Mutation], ResultCode)] = [
            (
                "the revision of a stored event", [.event(Fixture.event(3, .released, "k", session: 1, token: 3))],
                .constraintPrimaryKey
            ),
            ("the revision of a pruned event", [.event(Fixture.event(1, .acquired, "other", session: 1))], .constraint),
            (
                "a new revision after one of a pruned event",
                [
                    .event(Fixture.event(2, .acquired, "other", session: 1)),
                    .event(Fixture.event(4, .acquired, "b", session: 1)),
                ],
                .constraint
            ),
            ("a stored session id", [.openSession(Fixture.session(1))], .constraintTrigger),
            ("a session id below the counter", [.openSession(Fixture.session(0))], .constraintTrigger),
            (
                "a revision that goes back within a batch",
                [
                    .event(Fixture.event(5, .acquired, "a", session: 1)),
                    .event(Fixture.event(4, .acquired, "b", session: 1)),
                ],
                .constraint
            ),
            (
                "a revision repeated within a batch",
                [
                    .event(Fixture.event(4, .acquired, "a", session: 1)),
                    .event(Fixture.event(4, .released, "a", session: 1, token: 4)),
                ],
                .constraint
            ),
        ]
        for (label, batch, code) in refused {
            let result = await store.commitResult(batch)
            let error = try #require(throws: SQLiteError.self, "\(label)") { try result.get() }
            #expect(error.resultCode == code, "\(label)")
            #expect(error.primaryResultCode == .constraint, "\(label)")
            #expect(try store.load() == before, "\(label)")
            #expect(try await store.allEvents().events.map(\.revision) == [3], "\(label)")
        }
        try await store.commit([
            .openSession(Fixture.session(2)), .event(Fixture.event(4, .released, "k", session: 1, token: 3)),
        ])
        #expect(try store.load().revision == 4)
        #expect(try store.load().lastSessionID == SessionID(2))
    }

    @Test("SQLITE_FULL fails the commit and leaves the database as it was; once space is back, commits succeed")
    func diskFull() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file())
        defer { store.close() }
        try await store.commit([.openSession(Fixture.session(1))])
        let before = try store.load()

        // Cap the file at its current size: any new page is "disk full".
        try await store.withWriterConnection { connection in
            let pages = try connection.pragma("page_count") ?? "0"
            try connection.setPragma("max_page_count", to: pages)
        }
        let big: [Mutation] = (1...200).map { revision in
            var event = Fixture.event(
                UInt64(revision),
                revision % 2 == 1 ? .acquired : .released,
                "k",
                session: 1,
                token: UInt64(revision % 2 == 1 ? revision : revision - 1)
            )
            event.owner = String(repeating: "o", count: 2_000)
            return .event(event)
        }
        let result = await store.commitResult(big)
        let error = try #require(throws: SQLiteError.self) { try result.get() }
        #expect(error.primaryResultCode == .full)
        #expect(try store.load() == before)
        #expect(try await store.allEvents().events.isEmpty)

        try await store.withWriterConnection { connection in
            try connection.setPragma("max_page_count", to: "1073741823")
        }
        try await store.commit(big)
        #expect(try store.load().revision == 200)
        #expect(try await store.allEvents().events.count == 200)
    }
}
