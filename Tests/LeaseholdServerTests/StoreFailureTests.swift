import LeaseholdCore
import LeaseholdRPC
import LeaseholdServer
import LeaseholdStore
import LeaseholdTestSupport
import LeaseholdTestUtilities
import LeaseholdWire
import Logging
import Synchronization
import Testing

/// A real SQLite store whose commits can be made to fail, as a full disk would fail them.
final class FailingStore: Store {
    struct InjectedFailure: Error {}
    let inner: SQLiteStore
    let failing = Mutex(false)

    init(path: String) throws {
        self.inner = try SQLiteStore(configuration: .init(path: path), logger: Logger(label: "test"))
    }

    func load() throws -> PersistedState { try self.inner.load() }

    func submit(_ mutations: [Mutation], completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        if !mutations.isEmpty && self.failing.withLock({ $0 }) {
            // Fail in order with the batches before it, as the real store's writer would.
            self.inner.submit([]) { _ in completion(.failure(InjectedFailure())) }
        } else {
            self.inner.submit(mutations, completion: completion)
        }
    }

    func events(prefix: String, from start: UInt64, limit: Int) async throws -> EventPage {
        try await self.inner.events(prefix: prefix, from: start, limit: limit)
    }

    func enforceRetention() async throws { try await self.inner.enforceRetention() }

    func close() { self.inner.close() }

    var commitStatistics: CommitStatistics { self.inner.commitStatistics }
}

@Suite("Lock service when the store fails")
struct StoreFailureTests {
    @Test("a failed commit answers UNAVAILABLE, leaves nothing half-done, and the service carries on from disk")
    func failedCommit() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try FailingStore(path: directory.file("l.db"))
        defer { store.close() }
        let clock = ManualClock()
        let service = try LockService(store: store, configuration: .init(), clock: clock, logger: Logger(label: "test"))
        let connection = ConnectionID(rawValue: 1)
        let session = try await service.openSession(ttl: .seconds(30), name: "s", owner: "me", connection: connection)
        let first = try await service.acquire(key: "a", session: session.id, wait: .zero, connection: connection)

        store.failing.withLock { $0 = true }
        let failed = await #expect(throws: LeaseholdError.self) {
            _ = try await service.acquire(key: "b", session: session.id, wait: .zero, connection: connection)
        }
        #expect(failed?.code == .unavailable)

        // Recovery rebuilds the table from disk: "b" was never granted; "a" still is.
        store.failing.withLock { $0 = false }
        // While it recovers the service answers UNAVAILABLE; then it answers from what is durable.
        var description: LockTable.Description?
        let recovered = await eventually {
            guard let answer = try? await service.describe(key: "b") else { return false }
            description = answer
            return true
        }
        #expect(recovered)
        #expect(description != nil && description?.holder == nil)
        #expect(try await service.describe(key: "a").holder?.fencingToken == first.fencingToken)
        #expect(try store.load().locks.map(\.key) == ["a"])

        // The session survives (it was durable); new grants get tokens above every acknowledged one.
        let resumed = try await service.resumeSession(session.id, secret: session.secret, connection: connection)
        #expect(resumed.locks.map(\.key) == ["a"])
        let next = try await service.acquire(key: "b", session: session.id, wait: .zero, connection: connection)
        #expect(next.fencingToken > first.fencingToken)
        #expect(try store.load().revision == next.fencingToken)
    }
}
