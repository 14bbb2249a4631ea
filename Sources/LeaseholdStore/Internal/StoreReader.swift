internal import Dispatch
internal import LeaseholdCore
internal import LeaseholdSQLite
internal import Logging
internal import Synchronization

/// A read-only connection for ``SQLiteStore/load()`` and the event log.
///
/// WAL lets it read while the writer commits. Each read runs in one read transaction, so it sees one committed
/// state: the events of a page and its compact revision always agree. Event reads run on a serial queue of their
/// own, off the caller's thread.
final class StoreReader: Sendable {
    private let connection: Mutex<Connection?>
    private let queue = DispatchQueue(label: "leasehold.store.reader")
    private let logger: Logger

    /// Opens the read-only connection. The database must exist, in WAL mode (``WriterDatabase`` sees to it).
    /// - Parameters:
    ///   - path: The database file.
    ///   - logger: Where to log.
    /// - Throws: ``SQLiteError``.
    init(path: String, logger: Logger) throws {
        // The writer's VFS: the process-wide lock and the heap WAL index are shared by the connections of the process.
        let connection = try Connection(path: path, flags: [.readOnly], vfs: "unix-excl")
        try connection.setBusyTimeout(.seconds(5))
        self.connection = Mutex(connection)
        self.logger = logger
    }

    /// Closes the connection after any read in progress. Later reads throw ``StoreClosed``.
    func close() {
        self.connection.withLock { connection in
            connection?.close()
            connection = nil
        }
    }

    // MARK: - Load

    /// Reads the durable state, on the caller's thread.
    /// - Returns: The state to rebuild the lock table from.
    /// - Throws: ``StoreClosed``, ``SQLiteError``.
    func load() throws -> PersistedState {
        try self.connection.withLock { connection in
            guard let connection else { throw StoreClosed() }
            return try connection.transaction(.deferred) {
                try Self.load(from: connection, logger: self.logger)
            }
        }
    }

    private static func load(from connection: Connection, logger: Logger) throws -> PersistedState {
        // Derive the counters from the rows as well: belt and braces for "the revision never goes back".
        let meta = try connection.cachedStatement(
            """
            SELECT
                max(revision,
                    coalesce((SELECT max(revision) FROM events), 0),
                    coalesce((SELECT max(fencing_token) FROM locks), 0)),
                max(last_session_id, coalesce((SELECT max(id) FROM sessions), 0))
            FROM meta
            """
        )
        guard try meta.step() else {
            throw SQLiteError(resultCode: .corrupt, message: "the meta row is missing")
        }
        let revision = meta.uint64(at: 0)
        let lastSessionID = SessionID(meta.uint64(at: 1))
        meta.reset()

        var sessions: [SessionRecord] = []
        let selectSessions = try connection.cachedStatement(
            "SELECT id, secret_hash, ttl_ms, owner, name FROM sessions ORDER BY id"
        )
        while try selectSessions.step() {
            sessions.append(
                SessionRecord(
                    id: SessionID(selectSessions.uint64(at: 0)),
                    secretHash: selectSessions.blob(at: 1),
                    ttl: .milliseconds(selectSessions.int64(at: 2)),
                    owner: selectSessions.string(at: 3),
                    name: selectSessions.string(at: 4)
                )
            )
        }
        selectSessions.reset()

        var locks: [LockInfo] = []
        let selectLocks = try connection.cachedStatement(
            """
            SELECT l.key, l.session_id, l.fencing_token, l.owner, l.acquired_at_ms, s.ttl_ms
            FROM locks AS l LEFT JOIN sessions AS s ON s.id = l.session_id
            ORDER BY l.fencing_token
            """
        )
        while try selectLocks.step() {
            let key = selectLocks.string(at: 0)
            let sessionID = SessionID(selectLocks.uint64(at: 1))
            guard !selectLocks.isNull(at: 5) else {
                // Impossible with correct input (a session's locks are released before it is removed). Dropping the
                // lock frees a key nobody can hold; crashing would keep the server down.
                logger.info(
                    "store corruption: dropping a lock whose session is missing",
                    metadata: ["key": "\(key)", "session": "\(sessionID)"]
                )
                continue
            }
            locks.append(
                LockInfo(
                    key: key,
                    sessionID: sessionID,
                    fencingToken: selectLocks.uint64(at: 2),
                    owner: selectLocks.string(at: 3),
                    acquiredAt: WallTime(millisecondsSince1970: selectLocks.uint64(at: 4)),
                    sessionTTL: .milliseconds(selectLocks.int64(at: 5))
                )
            )
        }
        selectLocks.reset()

        return PersistedState(revision: revision, lastSessionID: lastSessionID, sessions: sessions, locks: locks)
    }

    // MARK: - Events

    /// Reads a page of the event log on the reader queue.
    /// - Parameters:
    ///   - prefix: A byte prefix of the key; empty matches every key.
    ///   - start: The first revision wanted.
    ///   - limit: At most this many events; zero or less returns none.
    /// - Returns: The page, with the compact revision of the same snapshot.
    /// - Throws: ``StoreClosed``, ``SQLiteError``.
    func events(prefix: String, from start: UInt64, limit: Int) async throws -> EventPage {
        try await withCheckedThrowingContinuation { continuation in
            self.queue.async {
                continuation.resume(
                    with: Result {
                        try self.connection.withLock { connection in
                            guard let connection else { throw StoreClosed() }
                            return try connection.transaction(.deferred) {
                                try Self.events(
                                    from: connection,
                                    prefix: prefix,
                                    start: start,
                                    limit: limit,
                                    logger: self.logger
                                )
                            }
                        }
                    }
                )
            }
        }
    }

    private static let eventColumns = "revision, type, key, session_id, fencing_token, owner, at_ms"

    private static func events(
        from connection: Connection,
        prefix: String,
        start: UInt64,
        limit: Int,
        logger: Logger
    ) throws -> EventPage {
        let meta = try connection.cachedStatement("SELECT compacted_through FROM meta")
        guard try meta.step() else {
            throw SQLiteError(resultCode: .corrupt, message: "the meta row is missing")
        }
        let compactRevision = meta.uint64(at: 0) + 1
        meta.reset()

        // Revisions are stored as signed integers: a start beyond Int64.max is beyond every revision.
        guard limit > 0, start <= UInt64(Int64.max) else {
            return EventPage(events: [], compactRevision: compactRevision)
        }

        let select: Statement
        if prefix.isEmpty {
            select = try connection.cachedStatement(
                "SELECT \(Self.eventColumns) FROM events WHERE revision >= ?1 ORDER BY revision LIMIT ?2"
            )
        } else {
            let range = KeyPrefixRange(prefix: prefix)
            if let upperBound = range.upperBound {
                select = try connection.cachedStatement(
                    """
                    SELECT \(Self.eventColumns) FROM events
                    WHERE revision >= ?1 AND key >= ?3 AND key < ?4 ORDER BY revision LIMIT ?2
                    """
                )
                try select.bind(textBytes: upperBound, at: 4)
            } else {
                select = try connection.cachedStatement(
                    """
                    SELECT \(Self.eventColumns) FROM events
                    WHERE revision >= ?1 AND key >= ?3 ORDER BY revision LIMIT ?2
                    """
                )
            }
            try select.bind(textBytes: range.lowerBound, at: 3)
        }
        try select.bind(start, at: 1)
        try select.bind(limit, at: 2)
        defer { select.reset() }

        var events: [Event] = []
        while try select.step() {
            let revision = select.uint64(at: 0)
            guard let kind = UInt8(exactly: select.int64(at: 1)).flatMap(Event.Kind.init(rawValue:)) else {
                // The CHECK constraint rules this out; skip rather than fail every watcher.
                logger.info(
                    "store corruption: skipping an event of unknown type",
                    metadata: ["revision": "\(revision)"]
                )
                continue
            }
            events.append(
                Event(
                    revision: revision,
                    kind: kind,
                    key: select.string(at: 2),
                    sessionID: SessionID(select.uint64(at: 3)),
                    fencingToken: select.uint64(at: 4),
                    owner: select.string(at: 5),
                    at: WallTime(millisecondsSince1970: select.uint64(at: 6))
                )
            )
        }
        return EventPage(events: events, compactRevision: compactRevision)
    }
}
