internal import Foundation
internal import LeaseholdCore
public import LeaseholdStore
public import Logging
internal import NIOCore
internal import PostgresNIO
internal import Synchronization

/// The leader lease in the `leader` row of the PostgreSQL database (docs/ha.md).
///
/// Every time is PostgreSQL's `clock_timestamp()`: a node's own clock is never compared with the database's. The
/// takeover locks the row `FOR UPDATE`, which waits for every commit still holding it `FOR KEY SHARE` (each
/// ``PostgresStore`` commit does, with its epoch) and makes every later commit of the old epoch fail.
///
/// ```swift
/// let election = PostgresLeaderElection(configuration: storeConfiguration, logger: logger)
/// if case .took(let epoch) = try await election.takeOver(holder: id, advertise: "db1:7420", lease: .seconds(3)) {
///     let store = try await election.openStore(epoch: epoch)
/// }
/// ```
public final class PostgresLeaderElection: LeaderElection {
    private let configuration: PostgresStore.Configuration
    private let logger: Logger
    private let connection = Mutex<PostgresConnection?>(nil)
    private let migrated = Mutex(false)

    /// - Parameters:
    ///   - configuration: The database, and the retention settings of the stores it opens (its epoch is ignored).
    ///   - logger: Where to log.
    public init(configuration: PostgresStore.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    deinit { self.reset() }

    public func takeOver(holder: String, advertise: String, lease: Duration) async throws -> TakeOverOutcome {
        let milliseconds = lease.wholeMilliseconds
        let query: PostgresQuery = """
            WITH current AS (
                SELECT id, epoch, advertise, expires_at < clock_timestamp() AS expired,
                    CASE WHEN expires_at <= clock_timestamp() THEN 0
                        ELSE CEIL(EXTRACT(EPOCH FROM expires_at - clock_timestamp()) * 1000)::int8 END AS remaining_ms
                FROM leader WHERE id = 1 FOR UPDATE
            ), taken AS (
                UPDATE leader l SET holder = \(holder), advertise = \(advertise), epoch = c.epoch + 1,
                    expires_at = clock_timestamp() + \(milliseconds) * interval '1 millisecond'
                FROM current c WHERE l.id = c.id AND c.expired
                RETURNING l.epoch
            )
            SELECT (SELECT epoch FROM taken), c.epoch, c.advertise, c.remaining_ms FROM current c
            """
        let connection = try await self.connected()
        for try await (taken, epoch, leader, remaining) in try await connection.query(query, logger: self.logger)
            .decode((Int64?, Int64, String, Int64).self)
        {
            if let taken { return .took(epoch: UInt64(taken)) }
            return .held(by: leader, epoch: UInt64(epoch), remaining: .milliseconds(remaining))
        }
        throw PostgresStoreError(message: "the leader row is missing")
    }

    public func renew(holder: String, epoch: UInt64, lease: Duration) async throws -> Bool {
        let query: PostgresQuery = """
            UPDATE leader SET expires_at = clock_timestamp() + \(lease.wholeMilliseconds) * interval '1 millisecond'
            WHERE id = 1 AND holder = \(holder) AND epoch = \(Int64(bitPattern: epoch))
                AND expires_at > clock_timestamp()
            RETURNING 1
            """
        let connection = try await self.connected()
        var renewed = false
        for try await _ in try await connection.query(query, logger: self.logger).decode(Int32.self) { renewed = true }
        return renewed
    }

    public func resign(holder: String, epoch: UInt64) async throws {
        let query: PostgresQuery = """
            UPDATE leader SET expires_at = '-infinity'
            WHERE id = 1 AND holder = \(holder) AND epoch = \(Int64(bitPattern: epoch))
            """
        try await self.connected().query(query, logger: self.logger)
    }

    public func openStore(epoch: UInt64) async throws -> any Store {
        var configuration = self.configuration
        configuration.epoch = epoch
        return try await PostgresStore.open(configuration: configuration, logger: self.logger)
    }

    public func reset() {
        let connection = self.connection.withLock { $0.take() }
        if let connection { connection.close().whenComplete { _ in _ = connection } }
    }

    private func connected() async throws -> PostgresConnection {
        if let connection = self.connection.withLock({ $0 }), !connection.isClosed { return connection }
        if !self.migrated.withLock({ $0 }) {
            try await PostgresStore.migrate(
                endpoint: self.configuration.endpoint,
                connectTimeout: self.configuration.connectTimeout,
                logger: self.logger
            )
            self.migrated.withLock { $0 = true }
        }
        let connection = try await PostgresStore.connect(
            self.configuration.endpoint,
            timeout: self.configuration.connectTimeout,
            logger: self.logger
        )
        let previous = self.connection.withLock { state in
            defer { state = connection }
            return state
        }
        if let previous { previous.close().whenComplete { _ in _ = previous } }
        return connection
    }
}
