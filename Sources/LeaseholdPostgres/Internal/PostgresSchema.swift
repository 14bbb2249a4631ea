internal import Logging
internal import PostgresNIO

/// The tables and their migrations, tracked in `leasehold_schema.version`.
///
/// Migration `n` (0-based) takes the schema from version `n` to `n + 1`; each is a list of statements run in one
/// transaction. Append new migrations; never edit one that has shipped. Every node migrates at start, under a
/// transaction-scoped advisory lock, so two nodes starting at once do not race.
enum PostgresSchema {
    static let migrations: [[String]] = [
        // Version 1.
        [
            """
            CREATE TABLE meta (
                id integer PRIMARY KEY CHECK (id = 1),
                revision bigint NOT NULL,
                last_session_id bigint NOT NULL,
                compacted_through bigint NOT NULL
            )
            """,
            "INSERT INTO meta (id, revision, last_session_id, compacted_through) VALUES (1, 0, 0, 0)",
            // The leader lease (docs/ha.md). `expires_at` is only ever computed by this server's clock.
            """
            CREATE TABLE leader (
                id integer PRIMARY KEY CHECK (id = 1),
                holder text NOT NULL,
                advertise text NOT NULL,
                epoch bigint NOT NULL,
                expires_at timestamptz NOT NULL
            )
            """,
            "INSERT INTO leader (id, holder, advertise, epoch, expires_at) VALUES (1, '', '', 0, '-infinity')",
            """
            CREATE TABLE sessions (
                id bigint PRIMARY KEY,
                secret_hash bytea NOT NULL,
                ttl_ms bigint NOT NULL,
                owner text NOT NULL,
                name text NOT NULL
            )
            """,
            // Keys compare as bytes (COLLATE "C"), as they do on the wire and in SQLite.
            """
            CREATE TABLE locks (
                key text COLLATE "C" PRIMARY KEY,
                session_id bigint NOT NULL,
                fencing_token bigint NOT NULL,
                owner text NOT NULL,
                acquired_at_ms bigint NOT NULL
            )
            """,
            """
            CREATE TABLE events (
                revision bigint PRIMARY KEY,
                type smallint NOT NULL CHECK (type BETWEEN 1 AND 4),
                key text COLLATE "C" NOT NULL,
                session_id bigint NOT NULL,
                fencing_token bigint NOT NULL,
                owner text NOT NULL,
                at_ms bigint NOT NULL
            )
            """,
        ]
    ]

    /// The version this build writes.
    static var latestVersion: Int { Self.migrations.count }

    /// Brings the schema up to ``latestVersion``.
    /// - Throws: ``UnsupportedSchemaVersion``-like ``PostgresStoreError`` for a newer schema; PostgreSQL errors.
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("BEGIN", logger: logger)
        do {
            // Any constant will do; it only has to be the same on every node.
            try await connection.query("SELECT pg_advisory_xact_lock(7420742)", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS leasehold_schema (version integer NOT NULL)",
                logger: logger
            )
            var found = 0
            for try await version in try await connection.query(
                "SELECT version FROM leasehold_schema",
                logger: logger
            ).decode(Int.self) {
                found = version
            }
            guard found <= Self.latestVersion else {
                throw PostgresStoreError(
                    message: "the database has schema version \(found); this build supports up to \(Self.latestVersion)"
                )
            }
            if found < Self.latestVersion {
                for migration in Self.migrations[found...] {
                    for statement in migration {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                }
                try await connection.query("DELETE FROM leasehold_schema", logger: logger)
                try await connection.query(
                    "INSERT INTO leasehold_schema (version) VALUES (\(Self.latestVersion))",
                    logger: logger
                )
                logger.info("migrated the store schema", metadata: ["from": "\(found)", "to": "\(Self.latestVersion)"])
            }
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }
}

/// A PostgreSQL store failure that is not PostgreSQL's own error: a superseded epoch, a refused revision, a newer
/// schema.
public struct PostgresStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { self.message }
}
