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

/// A store whose commits fail and which then cannot even be read: nothing durable can be reloaded.
final class BrokenStore: Store {
    struct Broken: Error {}
    let inner: SQLiteStore
    let broken = Mutex(false)

    init(path: String) throws {
        self.inner = try SQLiteStore(configuration: .init(path: path), logger: Logger(label: "test"))
    }

    func load() throws -> PersistedState {
        if self.broken.withLock({ $0 }) { throw Broken() }
        return try self.inner.load()
    }

    func submit(_ mutations: [Mutation], completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        guard !mutations.isEmpty, self.broken.withLock({ $0 }) else {
            self.inner.submit(mutations, completion: completion)
            return
        }
        self.inner.submit([]) { _ in completion(.failure(Broken())) }
    }

    func events(prefix: String, from start: UInt64, limit: Int) async throws -> EventPage {
        try await self.inner.events(prefix: prefix, from: start, limit: limit)
    }

    func enforceRetention() async throws { try await self.inner.enforceRetention() }

    func close() { self.inner.close() }

    var commitStatistics: CommitStatistics { self.inner.commitStatistics }
}

@Suite("A server whose store cannot recover")
struct UnrecoverableStoreTests {
    @Test(
        "run() stops the server and fails with the store's error instead of refusing every call forever",
        .timeLimit(.minutes(1))
    )
    func runFails() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try BrokenStore(path: directory.file("l.db"))
        var configuration = LeaseholdServer.Configuration()
        configuration.listenPort = 0
        let server = LeaseholdServer(
            configuration: configuration,
            store: { store },
            clock: ManualClock(),
            logger: Logger(label: "test")
        )
        let run = Task { try await server.run() }
        try await eventually(within: .seconds(10), "the server to start") { server.lockService != nil }
        let locks = try #require(server.lockService)
        let connection = ConnectionID(rawValue: 1)
        let session = try await locks.openSession(ttl: .seconds(30), name: "s", owner: "me", connection: connection)

        store.broken.withLock { $0 = true }
        await #expect(throws: LeaseholdError.self) {
            _ = try await locks.acquire(key: "k", session: session.id, wait: .zero, connection: connection)
        }
        await #expect(throws: BrokenStore.Broken.self) { try await run.value }
        #expect(server.lockService == nil)
    }
}
