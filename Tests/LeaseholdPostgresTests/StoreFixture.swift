import Foundation
import LeaseholdCore
import LeaseholdPostgres
import LeaseholdStore
import LeaseholdTestUtilities
import Logging

let testLogger = Logger(label: "leasehold.postgres.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// The stores the conformance suite runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres
    var description: String { self.rawValue }
}

/// One test's database (a SQLite file, or a fresh database in the shared PostgreSQL cluster), which can be opened
/// again as after a restart.
struct StoreFixture: Sendable {
    let kind: StoreKind
    let directory: TemporaryDirectory
    let endpoint: PostgresEndpoint?
    let epoch: UInt64
    var eventRetention = 100_000
    var retentionChunkSize = 1_000

    /// - Parameters:
    ///   - kind: Which store.
    ///   - eventRetention: Events kept.
    ///   - retentionChunkSize: Events pruned at most per transaction.
    static func make(
        _ kind: StoreKind,
        eventRetention: Int = 100_000,
        retentionChunkSize: Int = 1_000
    ) async throws
        -> StoreFixture
    {
        let directory = try TemporaryDirectory("leasehold-conformance")
        var endpoint: PostgresEndpoint?
        var epoch: UInt64 = 0
        if kind == .postgres {
            let cluster = try await PostgresTestCluster.shared()
            let url = try await cluster.createDatabase()
            endpoint = try PostgresEndpoint(url: url)
            let election = PostgresLeaderElection(
                configuration: .init(endpoint: endpoint!, epoch: 0),
                logger: testLogger
            )
            defer { election.reset() }
            guard
                case .took(let taken) = try await election.takeOver(holder: "test", advertise: "", lease: .seconds(600))
            else { throw PostgresTestCluster.Failure(description: "a fresh database had a leader") }
            epoch = taken
        }
        var fixture = StoreFixture(kind: kind, directory: directory, endpoint: endpoint, epoch: epoch)
        fixture.eventRetention = eventRetention
        fixture.retentionChunkSize = retentionChunkSize
        return fixture
    }

    /// Opens the store (again).
    func open() async throws -> any Store {
        switch self.kind {
        case .sqlite:
            var configuration = SQLiteStore.Configuration(path: self.directory.file("leasehold.db"))
            configuration.eventRetention = self.eventRetention
            configuration.retentionChunkSize = self.retentionChunkSize
            return try SQLiteStore(configuration: configuration, logger: testLogger)
        case .postgres:
            return try await self.openPostgres(epoch: self.epoch)
        }
    }

    /// A PostgreSQL store writing as `epoch`.
    func openPostgres(epoch: UInt64) async throws -> PostgresStore {
        var configuration = PostgresStore.Configuration(endpoint: self.endpoint!, epoch: epoch)
        configuration.eventRetention = self.eventRetention
        configuration.retentionChunkSize = self.retentionChunkSize
        return try await PostgresStore.open(configuration: configuration, logger: testLogger)
    }

    func remove() { self.directory.remove() }
}

extension Store {
    /// Submits and waits for the completion.
    func commit(_ mutations: [Mutation]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.submit(mutations) { continuation.resume(with: $0) }
        }
    }

    /// Submits and waits, returning the result.
    func commitResult(_ mutations: [Mutation]) async -> Result<Void, any Error> {
        await withCheckedContinuation { continuation in
            self.submit(mutations) { continuation.resume(returning: $0) }
        }
    }

    /// Closes and, for PostgreSQL, waits until the connections are gone.
    func closeAndWait() async {
        if let postgres = self as? PostgresStore { await postgres.closed() } else { self.close() }
    }
}

func session(_ id: UInt64, ttl: Duration = .seconds(10), owner: String = "tester") -> SessionRecord {
    SessionRecord(
        id: SessionID(id),
        secretHash: Array(repeating: UInt8(id & 0xff), count: 32),
        ttl: ttl,
        owner: owner,
        name: "s\(id)"
    )
}

/// Event times in the tests: now (when the tests started), so that retention by age (7 days) leaves them alone.
let testEpochMilliseconds = UInt64(Date().timeIntervalSince1970 * 1_000)

func event(_ revision: UInt64, _ kind: Event.Kind, _ key: String, session: UInt64, token: UInt64? = nil) -> Mutation {
    .event(
        Event(
            revision: revision,
            kind: kind,
            key: key,
            sessionID: SessionID(session),
            fencingToken: token ?? revision,
            owner: "tester",
            at: WallTime(millisecondsSince1970: testEpochMilliseconds + revision)
        )
    )
}
