import LeaseholdCore
import Testing

@testable import LeaseholdStore

@Suite("SQLiteStore event queries")
struct EventQueryTests {
    static let keys = [
        "jobs/1", "jobs/2", "jobsX", "JOBS/3", "jobs",
        "a%b/1", "a%bc", "axb/1", "a_b/1", "aXb",
        "ключ/1", "ключи", "🔒/x",
    ]

    /// One acquired event per key, revisions 1… in the order of ``keys``.
    private func storeWithEvents(_ directory: borrowing TemporaryDirectory) async throws -> SQLiteStore {
        let store = try SQLiteStore.open(directory.file())
        let events = Self.keys.enumerated().map { index, key in
            Mutation.event(Fixture.event(UInt64(index + 1), .acquired, key, session: 1))
        }
        try await store.commit([.openSession(Fixture.session(1))] + events)
        return store
    }

    @Test(
        "a prefix is a plain, case-sensitive byte prefix: no LIKE wildcards",
        arguments: [
            ("", keys),
            ("jobs/", ["jobs/1", "jobs/2"]),
            ("jobs", ["jobs/1", "jobs/2", "jobsX", "jobs"]),
            ("JOBS", ["JOBS/3"]),
            ("a%b", ["a%b/1", "a%bc"]),
            ("a_b", ["a_b/1"]),
            ("a%", ["a%b/1", "a%bc"]),
            ("%", []),
            ("_", []),
            ("ключ", ["ключ/1", "ключи"]),
            ("ключ/", ["ключ/1"]),
            ("🔒", ["🔒/x"]),
            ("jobs/1/more", []),
        ]
    )
    func prefixes(prefix: String, expected: [String]) async throws {
        let directory = try TemporaryDirectory()
        let store = try await self.storeWithEvents(directory)
        defer { store.close() }
        let page = try await store.allEvents(prefix: prefix)
        #expect(page.events.map(\.key) == expected)
        #expect(page.compactRevision == 1)
    }

    @Test("from a revision (inclusive), with a limit, oldest first")
    func startAndLimit() async throws {
        let directory = try TemporaryDirectory()
        let store = try await self.storeWithEvents(directory)
        defer { store.close() }
        #expect(try await store.events(prefix: "", from: 0, limit: 3).events.map(\.revision) == [1, 2, 3])
        #expect(try await store.events(prefix: "", from: 12, limit: 10).events.map(\.revision) == [12, 13])
        #expect(try await store.events(prefix: "jobs", from: 2, limit: 2).events.map(\.key) == ["jobs/2", "jobsX"])
        #expect(try await store.events(prefix: "", from: 14, limit: 10).events.isEmpty)
        #expect(try await store.events(prefix: "", from: .max, limit: 10).events.isEmpty)
        #expect(try await store.events(prefix: "", from: 1, limit: 0).events.isEmpty)
        #expect(try await store.events(prefix: "", from: 1, limit: -5).events.isEmpty)
        let first = try #require(try await store.events(prefix: "", from: 1, limit: 1).events.first)
        #expect(first == Fixture.event(1, .acquired, "jobs/1", session: 1))
    }

    @Test("event pages are read while the writer commits, each one a consistent snapshot")
    func readsDuringWrites() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file(), eventRetention: 20, retentionChunkSize: 3)
        defer { store.close() }
        try await store.commit([.openSession(Fixture.session(1))])
        let writes = Task {
            for start in stride(from: UInt64(1), through: 200, by: 2) {
                try await store.commit(Fixture.alternatingEvents(count: 2, from: start))
            }
        }
        for _ in 0..<50 {
            let page = try await store.allEvents()
            // No gap: the page starts at the compact revision (or is empty) and is contiguous.
            if let first = page.events.first {
                #expect(first.revision == page.compactRevision)
                #expect(
                    page.events.map(\.revision) == Array(first.revision..<(first.revision + UInt64(page.events.count)))
                )
            }
        }
        try await writes.value
    }

    @Test("the upper bound of a prefix range is the next byte string")
    func prefixRange() {
        #expect(KeyPrefixRange(prefix: "ab").lowerBound == Array("ab".utf8))
        #expect(KeyPrefixRange(prefix: "ab").upperBound == Array("ac".utf8))
        #expect(KeyPrefixRange(prefix: "a/").upperBound == Array("a0".utf8))
        #expect(KeyPrefixRange(prefix: "ч").upperBound == [0xD1, 0x88])
    }
}
