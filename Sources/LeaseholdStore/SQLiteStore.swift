public import LeaseholdCore
internal import LeaseholdSQLite
public import Logging

/// The SQLite implementation of ``Store``: one database file in WAL mode, one writer thread with group commit,
/// one read-only connection for loading and for the event log. The process holds the file exclusively while the
/// store is open (SQLite's `unix-excl` VFS): a second server on the same file fails with ``DataFileInUse``, and
/// tools such as `sqlite3` can read the file only once the server has stopped.
///
/// ```swift
/// let store = try SQLiteStore(configuration: .init(path: "leasehold.db"), logger: logger)
/// let state = try store.load()
/// store.submit([.event(grant)]) { result in
///     // durable (or failed) now; reply to the client
/// }
/// let page = try await store.events(prefix: "jobs/", from: 42, limit: 100)
/// store.close()
/// ```
///
/// Commits happen on the writer thread: callers queue batches under a lock, and the writer commits everything
/// queued in one `BEGIN IMMEDIATE … COMMIT`, then runs the completions in queue order. A failed transaction
/// (`SQLITE_FULL`, a constraint) is rolled back and fails every batch in it with its ``SQLiteError``; the writer
/// goes on with later batches. Events beyond the retention limits are pruned, oldest first, in chunks between
/// commits.
public final class SQLiteStore: Store {
    /// How the store was opened.
    public let configuration: Configuration

    private let writer: StoreWriter
    private let reader: StoreReader

    /// Opens the database, creating it if needed, and starts the writer thread.
    ///
    /// The file is switched to WAL mode, `synchronous` is set from the configuration, and the schema is migrated
    /// to the version this build writes.
    /// - Parameters:
    ///   - configuration: Where the database is and how to maintain it.
    ///   - logger: Where to log; the store adds the path as metadata.
    /// - Throws: ``DataFileInUse`` when another process has the file open (after waiting up to 5 s for it);
    ///   ``SQLiteError`` when the file cannot be opened or set up; ``UnsupportedSchemaVersion`` when it was written
    ///   by a newer build.
    public init(configuration: Configuration, logger: Logger) throws {
        var logger = logger
        logger[metadataKey: "store.path"] = "\(configuration.path)"
        let database = try WriterDatabase(configuration: configuration, logger: logger)
        let reader = try StoreReader(path: configuration.path, logger: logger)
        self.configuration = configuration
        self.reader = reader
        self.writer = StoreWriter(database: database, logger: logger)
        self.writer.start()
        logger.debug("store opened", metadata: ["synchronous": "\(configuration.synchronous.rawValue)"])
    }

    deinit {
        self.close()
    }

    /// Reads the revision, the session counter, the sessions and the held locks, on the caller's thread.
    ///
    /// A lock whose session is missing cannot come from correct input; it is logged and left out.
    /// - Returns: The state to rebuild the lock table from.
    /// - Throws: ``StoreClosed``, ``SQLiteError``.
    public func load() throws -> PersistedState {
        try self.reader.load()
    }

    /// Queues `mutations`; see ``Store/submit(_:completion:)``.
    ///
    /// Batches queued together share one transaction: if it fails, every batch in it that has mutations completes
    /// with the same ``SQLiteError`` and nothing of them is written. A barrier (an empty batch) always succeeds once
    /// every batch before it has completed, whether those committed or failed.
    ///
    /// After ``close()`` the completion runs at once, on the caller's thread, with ``StoreClosed``.
    /// - Parameters:
    ///   - mutations: The changes, in the order the lock table produced them; empty for a barrier.
    ///   - completion: Called exactly once, on the writer thread, in submission order.
    public func submit(_ mutations: [Mutation], completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        self.writer.enqueue(.batch(mutations, completion))
    }

    /// Reads committed events with `revision >= start` whose key starts with the bytes of `prefix`, oldest first,
    /// on the store's reader queue.
    /// - Parameters:
    ///   - prefix: A byte prefix of the key (no wildcards, case-sensitive); empty matches every key.
    ///   - start: The first revision wanted (inclusive).
    ///   - limit: At most this many events; zero or less returns none.
    /// - Returns: The events and the compact revision (`compacted_through + 1`) of the same snapshot.
    /// - Throws: ``StoreClosed``, ``SQLiteError``.
    public func events(prefix: String, from start: UInt64, limit: Int) async throws -> EventPage {
        try await self.reader.events(prefix: prefix, from: start, limit: limit)
    }

    /// Finishes the queued work, stops the writer thread and closes both connections. Calling it again does
    /// nothing.
    ///
    /// From a completion (on the writer thread) it cannot wait for the writer: it then only stops accepting work,
    /// and the writer closes the database once that completion returns.
    public func close() {
        self.writer.close()
        self.reader.close()
    }

    /// Counters of the writer's work so far.
    public var statistics: Statistics {
        self.writer.statistics
    }

    /// The group commits' durations and batch counts (``Statistics/commits``).
    public var commitStatistics: CommitStatistics {
        self.writer.statistics.commits
    }

    /// Prunes every event due under the retention limits now, in chunks, after the work queued before it.
    ///
    /// The writer prunes on its own between commits; this is for tests and maintenance.
    /// - Throws: ``StoreClosed``, ``SQLiteError``.
    public func enforceRetention() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.writer.enqueue(.enforceRetention { continuation.resume(with: $0) })
        }
    }

    /// Runs `body` on the writer thread with the writer connection, outside any transaction, after the work queued
    /// before it. For tests (`@testable import`), e.g. to lower `max_page_count` and provoke `SQLITE_FULL`.
    /// - Parameter body: The work; its error is rethrown.
    /// - Throws: ``StoreClosed``, or what `body` throws.
    func withWriterConnection(_ body: @escaping @Sendable (Connection) throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.writer.enqueue(.withConnection(body) { continuation.resume(with: $0) })
        }
    }
}
