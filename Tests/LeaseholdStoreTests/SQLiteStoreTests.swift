import Foundation
import LeaseholdCore
import LeaseholdSQLite
import Testing

@testable import LeaseholdStore

@Suite("SQLiteStore: durable state across close and reopen")
struct SQLiteStoreTests {
    @Test("a new database loads empty and has compact revision 1")
    func emptyDatabase() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file())
        defer { store.close() }
        #expect(try store.load() == .empty)
        let page = try await store.allEvents()
        #expect(page == EventPage(events: [], compactRevision: 1))
    }

    @Test("sessions, locks and events round-trip through close and reopen")
    func roundTrip() async throws {
        let directory = try TemporaryDirectory()
        let s1 = Fixture.session(1, ttl: .seconds(10))
        let s2 = Fixture.session(2, ttl: .milliseconds(2_500))
        let s3 = Fixture.session(3, ttl: .seconds(300))
        let events = [
            Fixture.event(1, .acquired, "jobs/a", session: 1),
            Fixture.event(2, .acquired, "jobs/b", session: 2),
            Fixture.event(3, .released, "jobs/a", session: 1, token: 1),
            Fixture.event(4, .acquired, "jobs/a", session: 2),
            Fixture.event(5, .acquired, "cron/x", session: 3),
            Fixture.event(6, .expired, "cron/x", session: 3, token: 5),
            Fixture.event(7, .acquired, "cron/x", session: 1),
            Fixture.event(8, .forceReleased, "jobs/b", session: 2, token: 2),
        ]
        do {
            let store = try SQLiteStore.open(directory.file())
            try await store.commit([.openSession(s1), .openSession(s2)])
            try await store.commit([.event(events[0]), .event(events[1])])
            try await store.commit([.event(events[2]), .event(events[3])])
            try await store.commit([.openSession(s3), .event(events[4])])
            try await store.commit([.event(events[5]), .removeSession(s3.id)])
            try await store.commit([.event(events[6]), .event(events[7])])
            store.close()
        }
        let store = try SQLiteStore.open(directory.file())
        defer { store.close() }
        let state = try store.load()
        #expect(state.revision == 8)
        #expect(state.lastSessionID == SessionID(3))
        #expect(state.sessions == [s1, s2])
        #expect(
            state.locks == [
                LockInfo(
                    key: "jobs/a",
                    sessionID: SessionID(2),
                    fencingToken: 4,
                    owner: "owner-2",
                    acquiredAt: events[3].at,
                    sessionTTL: .milliseconds(2_500)
                ),
                LockInfo(
                    key: "cron/x",
                    sessionID: SessionID(1),
                    fencingToken: 7,
                    owner: "owner-1",
                    acquiredAt: events[6].at,
                    sessionTTL: .seconds(10)
                ),
            ]
        )
        let page = try await store.allEvents()
        #expect(page.events == events)
        #expect(page.compactRevision == 1)
    }

    @Test("the revision and the session counter never go back across reopens, even after pruning and removals")
    func revisionNeverGoesBack() async throws {
        let directory = try TemporaryDirectory()
        var expectedRevision: UInt64 = 0
        for round in 1...4 {
            let store = try SQLiteStore.open(directory.file(), eventRetention: 3)
            let state = try store.load()
            #expect(state.revision == expectedRevision, "round \(round)")
            #expect(state.lastSessionID == SessionID(UInt64(round - 1)), "round \(round)")
            let session = Fixture.session(UInt64(round))
            try await store.commit([.openSession(session)])
            try await store.commit(Fixture.alternatingEvents(count: 4, from: expectedRevision + 1, key: "r\(round)"))
            try await store.commit([.removeSession(session.id)])
            expectedRevision += 4
            try await store.enforceRetention()
            #expect(try store.load().revision == expectedRevision)
            store.close()
        }
        let store = try SQLiteStore.open(directory.file(), eventRetention: 3)
        defer { store.close() }
        let state = try store.load()
        #expect(state.revision == 16)
        #expect(state.lastSessionID == SessionID(4))
        #expect(state.sessions.isEmpty)
        let page = try await store.allEvents()
        #expect(page.events.map(\.revision) == [14, 15, 16])
        #expect(page.compactRevision == 14)
    }

    @Test(
        "synchronous FULL is the default and --sync normal opens with NORMAL",
        arguments: [
            (SQLiteStore.Configuration.Synchronous.full, "2"), (.normal, "1"),
        ]
    )
    func synchronousSetting(synchronous: SQLiteStore.Configuration.Synchronous, pragma: String) async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file(), synchronous: synchronous)
        defer { store.close() }
        let seen = Recorder<String>()
        try await store.withWriterConnection { connection in
            seen.append(try connection.pragma("synchronous") ?? "nil")
            seen.append(try connection.pragma("journal_mode") ?? "nil")
        }
        #expect(seen.all == [pragma, "wal"])
        try await store.commit([.openSession(Fixture.session(1))])
        #expect(try store.load().sessions.count == 1)
        #expect(SQLiteStore.Configuration(path: "x").synchronous == .full)
    }

    @Test("a bare relative file name opens too")
    func relativePath() throws {
        // The process's working directory is shared by parallel tests: only open and close, never chdir.
        let name = "leasehold-store-test-\(UUID().uuidString).db"
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: name + suffix) }
        }
        let store = try SQLiteStore.open(name)
        store.close()
        #expect(FileManager.default.fileExists(atPath: name))
    }

    @Test("a schema newer than this build is refused")
    func newerSchema() throws {
        let directory = try TemporaryDirectory()
        do {
            let store = try SQLiteStore.open(directory.file())
            store.close()
        }
        do {
            let connection = try Connection(path: directory.file())
            try connection.execute("PRAGMA user_version = 99")
            connection.close()
        }
        let error = try #require(throws: UnsupportedSchemaVersion.self) { try SQLiteStore.open(directory.file()) }
        #expect(error == UnsupportedSchemaVersion(found: 99, supported: 3))
    }

    @Test("a version 1 database migrates to the latest: the key index is dropped and its events still read by prefix")
    func migratesFromVersion1() async throws {
        let directory = try TemporaryDirectory()
        // Stamped now, so that age-based retention leaves them alone.
        try Self.writeDatabase(
            at: directory.file(),
            version: 1,
            rows: """
                INSERT INTO events (revision, type, key, session_id, fencing_token, owner, at_ms)
                SELECT column1, column2, column3, 1, column4, 'me', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
                FROM (VALUES (1, 1, 'a/1', 1), (2, 1, 'b/1', 2), (3, 2, 'a/1', 1))
                """
        )
        let store = try SQLiteStore.open(directory.file())
        let page = try await store.events(prefix: "a/", from: 1, limit: 10)
        store.close()
        #expect(page.events.map(\.revision) == [1, 3])

        let connection = try Connection(path: directory.file())
        defer { connection.close() }
        #expect(try connection.pragma("user_version") == "\(Schema.latestVersion)")
        let index = try connection.cachedStatement("SELECT count(*) FROM sqlite_master WHERE name = 'events_by_key'")
        #expect(try index.step())
        #expect(index.int(at: 0) == 0)
        index.reset()
    }

    @Test("a version 2 database migrates to version 3: its revision counter goes on, and revisions are not reused")
    func migratesFromVersion2() async throws {
        let directory = try TemporaryDirectory()
        // Version 2's triggers move meta.revision with each event: to 3 here, and it stays 3 once pruned.
        try Self.writeDatabase(
            at: directory.file(),
            version: 2,
            rows: """
                INSERT INTO sessions (id, secret_hash, ttl_ms, owner, name) VALUES (1, x'00', 10000, 'me', '');
                INSERT INTO events (revision, type, key, session_id, fencing_token, owner, at_ms)
                VALUES (1, 1, 'a', 1, 1, 'me', 0), (2, 2, 'a', 1, 1, 'me', 0), (3, 1, 'b', 1, 3, 'me', 0);
                INSERT INTO locks (key, session_id, fencing_token, owner, acquired_at_ms) VALUES ('b', 1, 3, 'me', 0);
                DELETE FROM events WHERE revision = 3;
                """
        )
        let store = try SQLiteStore.open(directory.file())
        defer { store.close() }
        #expect(try store.load().revision == 3)
        let reused = await store.commitResult([.event(Fixture.event(3, .released, "b", session: 1, token: 3))])
        let error = try #require(throws: SQLiteError.self) { try reused.get() }
        #expect(error.resultCode == .constraint)
        try await store.commit([.event(Fixture.event(4, .released, "b", session: 1, token: 3))])
        #expect(try store.load().revision == 4)
        #expect(try store.load().locks.isEmpty)

        try await store.withWriterConnection { connection in
            #expect(try connection.pragma("user_version") == "3")
            let triggers = try connection.cachedStatement(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
            )
            defer { triggers.reset() }
            var names: [String] = []
            while try triggers.step() { names.append(triggers.string(at: 0)) }
            #expect(names == ["sessions_id_increases", "sessions_move_counter"])
        }
    }

    /// Writes a database as a build of schema `version` left it: that version's migrations, then `rows`.
    private static func writeDatabase(at path: String, version: Int, rows: String) throws {
        let connection = try Connection(path: path)
        defer { connection.close() }
        for migration in Schema.migrations[..<version] { try connection.execute(migration) }
        try connection.execute("PRAGMA user_version = \(version)")
        try connection.execute(rows)
    }

    @Test("a missing folder fails to open with SQLITE_CANTOPEN")
    func missingFolder() throws {
        let error = try #require(throws: SQLiteError.self) {
            try SQLiteStore.open("/nonexistent-leasehold-folder/leasehold.db")
        }
        #expect(error.primaryResultCode == .cannotOpen)
    }

    @Test("a lock whose session row is missing is dropped at load, not a crash")
    func orphanLock() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file())
        defer { store.close() }
        // Incorrect input: the session goes without releasing its lock first.
        try await store.commit([
            .openSession(Fixture.session(1)), .openSession(Fixture.session(2)),
            .event(Fixture.event(1, .acquired, "orphan", session: 1)),
            .event(Fixture.event(2, .acquired, "kept", session: 2)),
            .removeSession(SessionID(1)),
        ])
        let state = try store.load()
        #expect(state.sessions.map(\.id) == [SessionID(2)])
        #expect(state.locks.map(\.key) == ["kept"])
        #expect(state.revision == 2)
    }

    @Test("close drains the queue, is idempotent, and later work fails with StoreClosed")
    func closeSemantics() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file())
        let results = Recorder<Bool>()
        for id in 1...50 {
            store.submit([.openSession(Fixture.session(UInt64(id)))]) { results.append((try? $0.get()) != nil) }
        }
        store.close()
        store.close()
        #expect(results.all == Array(repeating: true, count: 50))

        let late = await store.commitResult([.openSession(Fixture.session(51))])
        #expect(throws: StoreClosed.self) { try late.get() }
        await #expect(throws: StoreClosed.self) { try await store.allEvents() }
        #expect(throws: StoreClosed.self) { try store.load() }

        let reopened = try SQLiteStore.open(directory.file())
        defer { reopened.close() }
        #expect(try reopened.load().sessions.count == 50)
    }

    @Test("after close the database file alone holds every commit: the WAL is checkpointed")
    func checkpointAtClose() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file())
        try await store.commit([.openSession(Fixture.session(1))] + Fixture.alternatingEvents(count: 5))
        _ = try store.load()  // the reader has been used, and stays open until after the writer closes
        store.close()

        try FileManager.default.copyItem(atPath: directory.file(), toPath: directory.file("copy.db"))
        let copy = try SQLiteStore.open(directory.file("copy.db"))
        defer { copy.close() }
        let state = try copy.load()
        #expect(state.revision == 5)
        #expect(state.sessions.count == 1)
        #expect(try await copy.allEvents().events.count == 5)
    }

    @Test("close from a completion on the writer thread does not deadlock")
    func closeFromCompletion() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file())
        try await store.commit([.openSession(Fixture.session(1))])
        await withCheckedContinuation { continuation in
            store.submit([]) { _ in
                store.close()
                continuation.resume()
            }
        }
        store.close()  // waits for the writer to exit
        let late = await store.commitResult([])
        #expect(throws: StoreClosed.self) { try late.get() }
    }
}
