import Foundation
import LeaseholdCore
import LeaseholdStore
import Testing

@Suite("SQLiteStore event retention")
struct RetentionTests {
    @Test("retention 10 after 50 events keeps the last 10, compact revision 41, also after reopening")
    func byCount() async throws {
        let directory = try TemporaryDirectory()
        do {
            let store = try SQLiteStore.open(directory.file(), eventRetention: 10)
            try await store.commit([.openSession(Fixture.session(1))])
            for mutation in Fixture.alternatingEvents(count: 50) {
                try await store.commit([mutation])
            }
            // The writer prunes after commits on its own; a barrier queued now runs after that chunk.
            try await store.commit([])
            let page = try await store.allEvents()
            #expect(page.events.map(\.revision) == Array(41...50))
            #expect(page.compactRevision == 41)
            #expect(store.statistics.prunedEvents == 40)
            store.close()
        }
        let store = try SQLiteStore.open(directory.file(), eventRetention: 10)
        defer { store.close() }
        let page = try await store.allEvents()
        #expect(page.events.map(\.revision) == Array(41...50))
        #expect(page.compactRevision == 41)
        #expect(try store.load().revision == 50)
        #expect(try await store.events(prefix: "", from: 41, limit: 1).events.map(\.revision) == [41])
    }

    @Test("pruning by count waits until 1% of the limit is due, then prunes down to the limit in one transaction")
    func byCountInBatches() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file(), eventRetention: 1_000)  // slack: 10
        defer { store.close() }
        try await store.commit([.openSession(Fixture.session(1))])
        try await store.commit(Fixture.alternatingEvents(count: 1_009))
        try await store.commit([])  // runs after the writer's check (and prune, if any) that followed the commit
        #expect(store.statistics.retentionTransactions == 0)
        #expect(try await store.allEvents().events.count == 1_009)

        try await store.commit(Fixture.alternatingEvents(count: 1, from: 1_010, key: "b"))
        try await store.commit([])
        #expect(store.statistics.retentionTransactions == 1)
        #expect(store.statistics.prunedEvents == 10)
        let page = try await store.allEvents()
        #expect(page.events.map(\.revision) == Array(11...1_010))
        #expect(page.compactRevision == 11)

        // enforceRetention prunes what is beyond the limit whatever the slack.
        try await store.commit(Fixture.alternatingEvents(count: 3, from: 1_011, key: "c"))
        try await store.enforceRetention()
        #expect(try await store.allEvents().events.map(\.revision) == Array(14...1_013))
    }

    @Test("pruning goes in bounded chunks, one transaction each")
    func chunks() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file(), eventRetention: 10, retentionChunkSize: 7)
        defer { store.close() }
        try await store.commit(Fixture.alternatingEvents(count: 50))
        try await store.enforceRetention()
        let page = try await store.allEvents()
        #expect(page.events.map(\.revision) == Array(41...50))
        #expect(page.compactRevision == 41)
        #expect(store.statistics.prunedEvents == 40)
        #expect(store.statistics.retentionTransactions == 6)  // 7 + 7 + 7 + 7 + 7 + 5
    }

    @Test("events older than the maximum age are pruned, as a prefix of the log only")
    func byAge() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file(), eventMaxAge: .seconds(3600))
        defer { store.close() }
        let longAgo = WallTime(millisecondsSince1970: 1_000)
        let recent = WallTime(millisecondsSince1970: UInt64(Date.now.timeIntervalSince1970 * 1_000))
        var mutations = Fixture.alternatingEvents(count: 5, from: 1, key: "old", at: longAgo)  // 1...5
        mutations += Fixture.alternatingEvents(count: 3, from: 6, key: "new", at: recent)  // 6...8
        mutations += Fixture.alternatingEvents(count: 1, from: 9, key: "late", at: longAgo)  // 9: old, after new ones
        mutations += Fixture.alternatingEvents(count: 1, from: 10, key: "latest", at: recent)
        try await store.commit(mutations)
        try await store.enforceRetention()
        let page = try await store.allEvents()
        // Revision 9 is old too, but pruning it would leave a hole after the compact revision.
        #expect(page.events.map(\.revision) == [6, 7, 8, 9, 10])
        #expect(page.compactRevision == 6)
        #expect(try store.load().revision == 10)
    }

    @Test("pruning every event keeps the revision and makes the next revision the compact revision")
    func pruneEverything() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore.open(directory.file(), eventRetention: 0)
        defer { store.close() }
        try await store.commit([.openSession(Fixture.session(1))] + Fixture.alternatingEvents(count: 3))
        try await store.enforceRetention()
        let page = try await store.allEvents()
        #expect(page == EventPage(events: [], compactRevision: 4))
        let state = try store.load()
        #expect(state.revision == 3)
        #expect(state.locks.map(\.key) == ["k"], "pruning events never touches locks")
    }
}
