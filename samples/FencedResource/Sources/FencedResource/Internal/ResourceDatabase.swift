import LeaseholdSQLite
import NIOPosix
import Synchronization

/// The sample's own SQLite file: one row per resource with its data, version and highest accepted token.
///
/// Every statement runs on one thread of its own (a one-thread `NIOThreadPool`, as sqlite-nio does), so a write's
/// fsync never blocks Swift's cooperative pool, and writes are serialised: the fencing check and the write that
/// follows it happen in one `BEGIN IMMEDIATE` transaction, which no other write can interleave with.
final class ResourceDatabase: Sendable {
    /// A resource as stored.
    struct Row: Hashable, Sendable {
        var data: [UInt8]
        var version: UInt64
        var highestToken: UInt64
    }

    /// What ``write(resource:fencingToken:data:)`` did.
    enum WriteResult: Hashable, Sendable {
        /// The write is durable; the resource is now at `version`.
        case written(version: UInt64)
        /// The token was stale; nothing changed.
        case refused(FenceGuard.Outcome)
    }

    /// The schema this code writes; a file with a newer one is refused rather than misread.
    static let schemaVersion = 1

    /// The writer connection. Only the pool's thread locks it, so the lock is never contended; it exists because
    /// `Connection` is not `Sendable` and `Mutex` is how a non-`Sendable` value is shared safely.
    private let connection: Mutex<Connection>
    private let pool: NIOThreadPool
    private let isClosed = Atomic(false)

    /// Opens (or creates) the file: WAL, `synchronous=FULL`, schema.
    /// - Parameter path: The SQLite file.
    /// - Throws: ``SQLiteError``, or ``UnsupportedResourceSchema`` for a file written by a newer version.
    init(path: String) throws {
        let connection = try Connection(path: path)
        try Self.configure(connection)
        self.connection = Mutex(connection)
        self.pool = NIOThreadPool(numberOfThreads: 1)
        self.pool.start()
    }

    /// Waits for running work, stops the thread and closes the file. Later calls throw.
    func close() async {
        guard !self.isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try? await self.pool.shutdownGracefully()
        self.connection.withLock { $0.close() }
    }

    // MARK: - Statements

    /// The highest token `resource` has accepted, or `nil` when it does not exist.
    func highestToken(of resource: String) async throws -> UInt64? {
        try await self.run { connection in
            let select = try connection.cachedStatement("SELECT highest_token FROM resources WHERE name = ?1")
            try select.bind(resource, at: 1)
            return try select.step() ? select.uint64(at: 0) : nil
        }
    }

    /// The resource, or `nil` when it has never been written.
    func read(_ resource: String) async throws -> Row? {
        try await self.run { connection in
            let select = try connection.cachedStatement(
                "SELECT data, version, highest_token FROM resources WHERE name = ?1"
            )
            try select.bind(resource, at: 1)
            guard try select.step() else { return nil }
            return Row(data: select.blob(at: 0), version: select.uint64(at: 1), highestToken: select.uint64(at: 2))
        }
    }

    /// Checks `fencingToken` against the resource's highest token and, if it passes, writes `data`, bumps the
    /// version and records the token, all in one transaction that is durable when this returns.
    func write(resource: String, fencingToken: UInt64, data: [UInt8]) async throws -> WriteResult {
        try await self.run { connection in
            try connection.transaction(.immediate) {
                let select = try connection.cachedStatement(
                    "SELECT version, highest_token FROM resources WHERE name = ?1"
                )
                try select.bind(resource, at: 1)
                let current = try select.step() ? (version: select.uint64(at: 0), highest: select.uint64(at: 1)) : nil
                select.reset()
                let outcome = FenceGuard.check(fencingToken, against: current?.highest)
                guard case .accepted(let newHighest) = outcome else { return .refused(outcome) }
                let version = (current?.version ?? 0) + 1
                let upsert = try connection.cachedStatement(
                    """
                    INSERT INTO resources (name, data, version, highest_token) VALUES (?1, ?2, ?3, ?4)
                    ON CONFLICT (name) DO UPDATE
                        SET data = excluded.data, version = excluded.version, highest_token = excluded.highest_token
                    """
                )
                try upsert.bind(resource, at: 1)
                try upsert.bind(blob: data, at: 2)
                try upsert.bind(version, at: 3)
                try upsert.bind(newHighest, at: 4)
                try upsert.run()
                return .written(version: version)
            }
        }
    }

    // MARK: - Internal

    /// Runs `body` on the database thread.
    /// - Throws: ``ResourceDatabaseClosed`` after ``close()``, or what `body` throws.
    private func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        guard !self.isClosed.load(ordering: .acquiring) else { throw ResourceDatabaseClosed() }
        do {
            return try await self.pool.runIfActive {
                try self.connection.withLock { connection in try body(connection) }
            }
        } catch {
            // Work that reaches a pool that has shut down is refused (as a cancellation).
            if self.isClosed.load(ordering: .acquiring) { throw ResourceDatabaseClosed() }
            throw error
        }
    }

    private static func configure(_ connection: Connection) throws {
        try connection.setBusyTimeout(.seconds(5))
        let mode = try connection.setPragma("journal_mode", to: "WAL")
        guard mode?.lowercased() == "wal" else {
            throw SQLiteError(
                resultCode: .error,
                message: "cannot switch \(connection.path) to WAL (got \(mode ?? "nothing"))"
            )
        }
        try connection.setPragma("synchronous", to: "FULL")
        let version = Int(try connection.pragma("user_version") ?? "0") ?? 0
        guard version <= Self.schemaVersion else {
            throw UnsupportedResourceSchema(path: connection.path, version: version, supported: Self.schemaVersion)
        }
        guard version < Self.schemaVersion else { return }
        try connection.transaction(.immediate) {
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS resources (
                    name TEXT PRIMARY KEY NOT NULL,
                    data BLOB NOT NULL,
                    version INTEGER NOT NULL CHECK (version > 0),
                    highest_token INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TRIGGER IF NOT EXISTS resources_highest_token_never_goes_back
                BEFORE UPDATE OF highest_token ON resources
                WHEN NEW.highest_token < OLD.highest_token
                BEGIN
                    SELECT RAISE(ABORT, 'highest_token never goes back');
                END;
                CREATE TRIGGER IF NOT EXISTS resources_version_only_grows
                BEFORE UPDATE OF version ON resources
                WHEN NEW.version <= OLD.version
                BEGIN
                    SELECT RAISE(ABORT, 'version only grows');
                END;
                PRAGMA user_version = 1;
                """
            )
        }
    }
}

/// The database was closed: the service is shutting down.
struct ResourceDatabaseClosed: Error {}

/// The file was written by a newer version of the sample, with a schema this one does not know.
struct UnsupportedResourceSchema: Error, CustomStringConvertible {
    var path: String
    var version: Int
    var supported: Int

    var description: String {
        "\(self.path) has schema version \(self.version); this fenced-resource understands up to \(self.supported)"
    }
}
