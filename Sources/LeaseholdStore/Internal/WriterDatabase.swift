internal import LeaseholdCore
internal import LeaseholdSQLite
internal import Logging

/// The writer connection and the SQL that changes the database: group commits and retention.
///
/// It is created on the opening thread, then handed to the writer thread (see ``StoreWriter``), which is the only
/// one to use it from then on.
final class WriterDatabase {
    let connection: Connection
    private let configuration: SQLiteStore.Configuration
    private let logger: Logger
    /// Rows in `events`, counted once at open and then kept up to date, so that retention never counts the table.
    private(set) var eventCount: Int
    /// `at_ms` of the oldest event (`nil`: the log is empty), valid while ``oldestEventAtIsKnown``: read when the
    /// oldest event may have changed (at open, after the first insert into an empty log, after a prune), so the age
    /// check after each commit does not read the table.
    private var oldestEventAt: UInt64?
    private var oldestEventAtIsKnown = false

    /// Opens (or creates) the database, switches it to WAL, sets `synchronous` and migrates the schema.
    /// - Parameters:
    ///   - configuration: The store configuration.
    ///   - logger: Where to log.
    /// - Throws: ``DataFileInUse`` when another process has the file open; ``SQLiteError``,
    ///   ``UnsupportedSchemaVersion``.
    init(configuration: SQLiteStore.Configuration, logger: Logger) throws {
        // unix-excl: the first lock this connection takes becomes an exclusive lock on the file, held by the process
        // until the last connection closes, so no other process can use the file meanwhile; and the WAL index lives
        // in the heap, not in a `-shm` file, so commits take no file locks (six fcntl calls each before).
        let connection = try Connection(path: configuration.path, flags: [.readWrite, .create], vfs: "unix-excl")
        try connection.setBusyTimeout(.seconds(5))
        let mode: String?
        do {
            mode = try connection.setPragma("journal_mode", to: "WAL")
        } catch let error as SQLiteError where error.primaryResultCode == .busy {
            throw DataFileInUse(path: configuration.path)
        }
        guard mode?.lowercased() == "wal" else {
            throw SQLiteError(
                resultCode: .error,
                message: "journal_mode is \(mode ?? "unknown"), not wal (opening \(configuration.path))"
            )
        }
        switch configuration.synchronous {
        case .full: try connection.setPragma("synchronous", to: "FULL")
        case .normal: try connection.setPragma("synchronous", to: "NORMAL")
        }
        try Schema.migrate(connection, logger: logger)

        let count = try connection.cachedStatement("SELECT count(*) FROM events")
        try count.step()
        self.eventCount = count.int(at: 0)
        count.reset()

        self.connection = connection
        self.configuration = configuration
        self.logger = logger
    }

    /// Copies the WAL into the database file and closes the connection.
    ///
    /// SQLite checkpoints on close only when the last connection closes, and the read-only connection that may
    /// close last cannot. Without this the latest commits could live only in the `-wal` file, and a copy of the
    /// database file alone would miss them.
    func close() {
        do {
            try self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        } catch {
            self.logger.info(
                "final WAL checkpoint failed; the WAL is replayed at next open",
                metadata: ["error": "\(error)"]
            )
        }
        self.connection.close()
    }

    // MARK: - Group commit

    /// Applies `batches`, in order, in one `BEGIN IMMEDIATE … COMMIT`.
    ///
    /// The counters move with the rows, in the same transaction, and only forward. `meta.revision` moves once, to
    /// the group's last event, and only if the group's first event is above it: with the events' strictly
    /// increasing order, checked here, no revision is ever stored twice, even after its row was pruned. Triggers
    /// move `meta.last_session_id` with each inserted session and refuse an id that is not above it. On error
    /// nothing of the transaction remains (``Connection/transaction(_:_:)`` rolls back) and ``eventCount`` is
    /// unchanged.
    /// - Parameter batches: The batches of one group.
    /// - Throws: ``SQLiteError`` from the first statement that failed, or from `COMMIT`; with
    ///   ``ResultCode/constraint`` when the events' revisions do not increase or the first is not above
    ///   `meta.revision`.
    func commit(_ batches: [[Mutation]]) throws {
        var inserted = 0
        try self.connection.transaction(.immediate) {
            var revisions: (first: UInt64, last: UInt64)?
            for batch in batches {
                for mutation in batch {
                    switch mutation {
                    case .openSession(let session):
                        try self.insert(session)
                    case .removeSession(let id):
                        let delete = try self.connection.cachedStatement("DELETE FROM sessions WHERE id = ?1")
                        try delete.bind(id.rawValue, at: 1)
                        try delete.run()
                    case .event(let event):
                        if let last = revisions?.last, event.revision <= last {
                            throw SQLiteError(
                                resultCode: .constraint,
                                message: "event revision \(event.revision) is not above \(last), the one before it"
                            )
                        }
                        try self.apply(event)
                        revisions = (revisions?.first ?? event.revision, event.revision)
                        inserted += 1
                    }
                }
            }
            if let revisions { try self.moveRevision(to: revisions.last, from: revisions.first) }
        }
        if self.eventCount == 0, inserted > 0 { self.oldestEventAtIsKnown = false }
        self.eventCount += inserted
    }

    /// Sets `meta.revision` to `last` if it is below `first`.
    /// - Throws: ``SQLiteError`` with ``ResultCode/constraint`` when it is not.
    private func moveRevision(to last: UInt64, from first: UInt64) throws {
        let sql = "UPDATE meta SET revision = ?1 WHERE revision < ?2"
        let move = try self.connection.cachedStatement(sql)
        try move.bind(last, at: 1)
        try move.bind(first, at: 2)
        try move.run()
        guard self.connection.changes == 1 else {
            throw SQLiteError(
                resultCode: .constraint,
                message: "event revision \(first) is not above meta.revision",
                sql: sql
            )
        }
    }

    private func insert(_ session: SessionRecord) throws {
        let insert = try self.connection.cachedStatement(
            "INSERT INTO sessions (id, secret_hash, ttl_ms, owner, name) VALUES (?1, ?2, ?3, ?4, ?5)"
        )
        try insert.bind(session.id.rawValue, at: 1)
        try insert.bind(blob: session.secretHash, at: 2)
        try insert.bind(session.ttl.wholeMilliseconds, at: 3)
        try insert.bind(session.owner, at: 4)
        try insert.bind(session.name, at: 5)
        try insert.run()
    }

    /// Appends the event and updates the `locks` projection: `acquired` inserts the key's row (failing if one is
    /// there), every other kind deletes it.
    private func apply(_ event: Event) throws {
        let insert = try self.connection.cachedStatement(
            """
            INSERT INTO events (revision, type, key, session_id, fencing_token, owner, at_ms)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            """
        )
        try insert.bind(event.revision, at: 1)
        try insert.bind(Int64(event.kind.rawValue), at: 2)
        try insert.bind(event.key, at: 3)
        try insert.bind(event.sessionID.rawValue, at: 4)
        try insert.bind(event.fencingToken, at: 5)
        try insert.bind(event.owner, at: 6)
        try insert.bind(event.at.millisecondsSince1970, at: 7)
        try insert.run()

        switch event.kind {
        case .acquired:
            let lock = try self.connection.cachedStatement(
                """
                INSERT INTO locks (key, session_id, fencing_token, owner, acquired_at_ms)
                VALUES (?1, ?2, ?3, ?4, ?5)
                """
            )
            try lock.bind(event.key, at: 1)
            try lock.bind(event.sessionID.rawValue, at: 2)
            try lock.bind(event.fencingToken, at: 3)
            try lock.bind(event.owner, at: 4)
            try lock.bind(event.at.millisecondsSince1970, at: 5)
            try lock.run()
        case .released, .expired, .forceReleased:
            let unlock = try self.connection.cachedStatement("DELETE FROM locks WHERE key = ?1")
            try unlock.bind(event.key, at: 1)
            try unlock.run()
        }
    }

    // MARK: - Retention

    /// Whether some events are due for pruning: ``countSlack`` or more beyond
    /// ``SQLiteStore/Configuration/eventRetention``, or the oldest one older than
    /// ``SQLiteStore/Configuration/eventMaxAge``. A prune then takes the log down to the limit exactly.
    /// - Parameter now: The wall-clock time to measure age against.
    /// - Throws: ``SQLiteError``.
    func hasRetentionBacklog(now: WallTime) throws -> Bool {
        if self.eventCount - max(self.configuration.eventRetention, 0) >= self.countSlack { return true }
        guard self.eventCount > 0 else { return false }
        if !self.oldestEventAtIsKnown {
            let oldest = try self.connection.cachedStatement("SELECT at_ms FROM events ORDER BY revision LIMIT 1")
            defer { oldest.reset() }
            self.oldestEventAt = try oldest.step() ? oldest.uint64(at: 0) : nil
            self.oldestEventAtIsKnown = true
        }
        guard let oldest = self.oldestEventAt else { return false }
        return oldest < self.cutoff(now: now)
    }

    /// How many events beyond ``SQLiteStore/Configuration/eventRetention`` make pruning by count due: 1% of the limit,
    /// at least 1 and at most one chunk. Pruning after every group commit cost a second transaction (and a second
    /// sync) per group once the log was full; in batches it costs one per ~1% of the limit.
    private var countSlack: Int {
        max(1, min(self.configuration.eventRetention / 100, self.configuration.retentionChunkSize))
    }

    /// Prunes one chunk: the longest run of oldest events (by revision) that are beyond the count limit or older
    /// than the age limit, at most ``SQLiteStore/Configuration/retentionChunkSize`` of them, in one transaction that
    /// also records the highest pruned revision as `meta.compacted_through`.
    ///
    /// Only a prefix of the log is ever pruned, so the events from `compacted_through + 1` on have no gap.
    /// - Parameter now: The wall-clock time to measure age against.
    /// - Returns: The number of events pruned; 0 when nothing is due.
    /// - Throws: ``SQLiteError``; the transaction is then rolled back.
    func pruneChunk(now: WallTime) throws -> Int {
        let cutoff = self.cutoff(now: now)
        let excess = self.eventCount - max(self.configuration.eventRetention, 0)
        let chunk = max(self.configuration.retentionChunkSize, 1)
        let deleted = try self.connection.transaction(.immediate) { () throws -> Int in
            let oldest = try self.connection.cachedStatement(
                "SELECT revision, at_ms FROM events ORDER BY revision LIMIT ?1"
            )
            try oldest.bind(chunk, at: 1)
            var last: UInt64?
            var count = 0
            while try oldest.step() {
                guard count < excess || oldest.uint64(at: 1) < cutoff else { break }
                last = oldest.uint64(at: 0)
                count += 1
            }
            oldest.reset()
            guard let last else { return 0 }

            let delete = try self.connection.cachedStatement("DELETE FROM events WHERE revision <= ?1")
            try delete.bind(last, at: 1)
            try delete.run()
            let deleted = self.connection.changes
            let meta = try self.connection.cachedStatement(
                "UPDATE meta SET compacted_through = max(compacted_through, ?1)"
            )
            try meta.bind(last, at: 1)
            try meta.run()
            return deleted
        }
        self.eventCount -= deleted
        if deleted > 0 {
            self.oldestEventAtIsKnown = false
            self.logger.debug("pruned events", metadata: ["count": "\(deleted)", "left": "\(self.eventCount)"])
        }
        return deleted
    }

    /// Events with `at_ms` below this are older than the age limit.
    private func cutoff(now: WallTime) -> UInt64 {
        let age = max(self.configuration.eventMaxAge.wholeMilliseconds, 0)
        let now = now.millisecondsSince1970
        return now > UInt64(age) ? now - UInt64(age) : 0
    }
}
