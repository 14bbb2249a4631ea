import LeaseholdCore
import LeaseholdStore
import LeaseholdTestUtilities
import PostgresNIO
import Testing

@testable import LeaseholdPostgres

@Suite("PostgreSQL leader lease and epoch guard")
struct PostgresLeaseTests {
    @Test("the lease is taken only once it has run out on the database clock, and each takeover bumps the epoch")
    func takeOverAndRenew() async throws {
        let fixture = try await StoreFixture.make(.postgres)  // "test" holds epoch 1 for 600 s
        defer { fixture.remove() }
        let election = PostgresLeaderElection(
            configuration: .init(endpoint: fixture.endpoint!, epoch: 0),
            logger: testLogger
        )
        defer { election.reset() }

        let first = try await election.takeOver(holder: "b", advertise: "b:1", lease: .seconds(600))
        #expect(Self.holder(first) == "" && Self.epoch(first) == 1)
        // How long the lease has left, on the database clock: what a standby schedules its next attempt by.
        #expect(Self.remaining(first).map { $0 > .seconds(590) && $0 <= .seconds(600) } == true)
        #expect(try await election.renew(holder: "test", epoch: 1, lease: .seconds(600)))
        #expect(try await !election.renew(holder: "b", epoch: 1, lease: .seconds(600)))
        #expect(try await !election.renew(holder: "test", epoch: 2, lease: .seconds(600)))

        try await election.resign(holder: "test", epoch: 1)
        #expect(try await election.takeOver(holder: "b", advertise: "b:1", lease: .seconds(600)) == .took(epoch: 2))
        let second = try await election.takeOver(holder: "c", advertise: "c:1", lease: .seconds(600))
        #expect(Self.holder(second) == "b:1" && Self.epoch(second) == 2)
        #expect(Self.remaining(second).map { $0 > .seconds(590) && $0 <= .seconds(600) } == true)
        #expect(try await !election.renew(holder: "test", epoch: 1, lease: .seconds(600)))

        // A lease of zero has run out by the next statement on the database clock: no waiting needed.
        try await election.resign(holder: "b", epoch: 2)
        #expect(try await election.takeOver(holder: "c", advertise: "c:1", lease: .zero) == .took(epoch: 3))
        #expect(try await !election.renew(holder: "c", epoch: 3, lease: .seconds(600)))
        #expect(try await election.takeOver(holder: "d", advertise: "d:1", lease: .seconds(600)) == .took(epoch: 4))
    }

    @Test("a store of a superseded epoch can no longer write, not even prune; the new epoch's store can")
    func epochGuard() async throws {
        let fixture = try await StoreFixture.make(.postgres, eventRetention: 1, retentionChunkSize: 10)
        defer { fixture.remove() }
        let old = try await fixture.openPostgres(epoch: 1)
        defer { old.close() }
        try await old.commit([.openSession(session(1)), event(1, .acquired, "a", session: 1)])

        let election = PostgresLeaderElection(
            configuration: .init(endpoint: fixture.endpoint!, epoch: 0),
            logger: testLogger
        )
        defer { election.reset() }
        try await election.resign(holder: "test", epoch: 1)
        guard case .took(let epoch) = try await election.takeOver(holder: "new", advertise: "", lease: .seconds(600))
        else {
            Issue.record("the takeover failed")
            return
        }
        #expect(epoch == 2)

        let refused = await old.commitResult([event(2, .released, "a", session: 1, token: 1), .openSession(session(2))])
        #expect(throws: PostgresStoreError.self) { try refused.get() }
        if case .failure(let error) = refused { #expect("\(error)".contains("superseded")) }
        await #expect(throws: PostgresStoreError.self) { try await old.enforceRetention() }

        let new = try await fixture.openPostgres(epoch: epoch)
        defer { new.close() }
        let state = try new.load()
        #expect(state.revision == 1)
        #expect(state.sessions.map(\.id) == [SessionID(1)])
        #expect(state.locks.map(\.fencingToken) == [1])
        try await new.commit([event(2, .released, "a", session: 1, token: 1)])
        try await new.enforceRetention()
        #expect(try await new.events(prefix: "", from: 1, limit: 10).compactRevision == 2)
    }
}

@Suite("PostgreSQL group commit")
struct PostgresCommitTests {
    @Test("a commit whose statement could not be prepared leaves the store able to commit once the cause is gone")
    func commitAfterFailedPrepare() async throws {
        let fixture = try await StoreFixture.make(.postgres)
        defer { fixture.remove() }
        let store = try await fixture.openPostgres(epoch: fixture.epoch)
        defer { store.close() }
        let admin = try await PostgresStore.connect(fixture.endpoint!, timeout: .seconds(5), logger: testLogger)
        // With `events` gone, preparing the commit fails (postgres-nio then keeps that failure for the statement's
        // name on the writer's connection).
        try await admin.query("ALTER TABLE events RENAME TO events_away", logger: testLogger)
        let failed = await store.commitResult([.openSession(session(1)), event(1, .acquired, "a", session: 1)])
        #expect(throws: (any Error).self) { try failed.get() }
        try await admin.query("ALTER TABLE events_away RENAME TO events", logger: testLogger)
        try await admin.close()

        try await store.commit([.openSession(session(1)), event(1, .acquired, "a", session: 1)])
        try await store.commit([event(2, .released, "a", session: 1, token: 1)])
        let state = try store.load()
        #expect(state.revision == 2)
        #expect(state.sessions.map(\.id) == [SessionID(1)])
        #expect(state.locks.isEmpty)
    }
}

@Suite("PostgreSQL URLs and commit plans")
struct PostgresPureTests {
    @Test("postgres:// URLs parse, with and without password and port")
    func urls() throws {
        let full = try PostgresEndpoint(url: "postgres://ops:s%40cret@db.example:6543/leasehold")
        #expect(
            full
                == PostgresEndpoint(
                    host: "db.example",
                    port: 6543,
                    user: "ops",
                    password: "s@cret",
                    database: "leasehold"
                )
        )
        #expect(full.description == "postgres://ops@db.example:6543/leasehold")
        let short = try PostgresEndpoint(url: "postgresql://ops@[::1]/l")
        #expect(short == PostgresEndpoint(host: "::1", port: 5432, user: "ops", password: nil, database: "l"))
        for bad in [
            "mysql://a@b/c", "postgres://b:5432/c", "postgres://a@b:99999/c", "postgres://a@b:5432/", "postgres://a@b",
        ] {
            #expect(throws: InvalidPostgresURL.self) { try PostgresEndpoint(url: bad) }
        }
    }

    @Test("a commit plan keeps each key's last state and drops sessions opened and removed in the same group")
    func commitPlan() throws {
        let plan = try CommitPlan([
            [.openSession(session(7)), event(1, .acquired, "a", session: 7)],
            [event(2, .released, "a", session: 7, token: 1), event(3, .acquired, "b", session: 7)],
            [event(4, .expired, "c", session: 3, token: 0), event(5, .acquired, "c", session: 8)],
            [.openSession(session(8)), .removeSession(SessionID(8)), .removeSession(SessionID(3))],
        ])
        #expect(plan.events.map(\.revision) == [1, 2, 3, 4, 5])
        #expect(plan.freedKeys == ["a"])
        #expect(plan.heldLocks.map(\.key) == ["b", "c"])
        #expect(plan.newSessions.map(\.id) == [SessionID(7)])
        #expect(plan.removedSessions == [3])
        #expect(plan.openedRange?.lowest == 7 && plan.openedRange?.highest == 8)
        #expect(throws: PostgresStoreError.self) {
            try CommitPlan([[event(2, .acquired, "a", session: 1), event(2, .released, "a", session: 1)]])
        }
    }
}

extension PostgresLeaseTests {
    fileprivate static func holder(_ outcome: TakeOverOutcome) -> String? {
        if case .held(let holder, _, _) = outcome { return holder }
        return nil
    }

    fileprivate static func epoch(_ outcome: TakeOverOutcome) -> UInt64? {
        if case .held(_, let epoch, _) = outcome { return epoch }
        return nil
    }

    fileprivate static func remaining(_ outcome: TakeOverOutcome) -> Duration? {
        if case .held(_, _, let remaining) = outcome { return remaining }
        return nil
    }
}
