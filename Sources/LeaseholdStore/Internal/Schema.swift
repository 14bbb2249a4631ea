internal import LeaseholdSQLite
internal import Logging

/// The database schema and its migrations, tracked in `PRAGMA user_version`.
///
/// Migration `n` (0-based) takes the schema from version `n` to `n + 1`. Append new migrations; never edit one that
/// has shipped.
enum Schema {
    static let migrations: [String] = [
        // Version 1.
        """
        CREATE TABLE meta (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            revision INTEGER NOT NULL,
            last_session_id INTEGER NOT NULL,
            compacted_through INTEGER NOT NULL
        ) STRICT;
        INSERT INTO meta (id, revision, last_session_id, compacted_through) VALUES (1, 0, 0, 0);

        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            secret_hash BLOB NOT NULL,
            ttl_ms INTEGER NOT NULL,
            owner TEXT NOT NULL,
            name TEXT NOT NULL
        ) STRICT;

        CREATE TABLE locks (
            key TEXT PRIMARY KEY,
            session_id INTEGER NOT NULL,
            fencing_token INTEGER NOT NULL,
            owner TEXT NOT NULL,
            acquired_at_ms INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE events (
            revision INTEGER PRIMARY KEY,
            type INTEGER NOT NULL CHECK (type BETWEEN 1 AND 4),
            key TEXT NOT NULL,
            session_id INTEGER NOT NULL,
            fencing_token INTEGER NOT NULL,
            owner TEXT NOT NULL,
            at_ms INTEGER NOT NULL
        ) STRICT;
        -- Watch and catch-up by key prefix: a range on key, then revision order.
        CREATE INDEX events_by_key ON events (key, revision);

        -- The counters move with the rows, in the same transaction, and only forward: a revision or a session id
        -- at or below the stored one is refused (SQLITE_CONSTRAINT_TRIGGER), even after its row was pruned.
        CREATE TRIGGER events_revision_increases BEFORE INSERT ON events
        WHEN NEW.revision <= (SELECT revision FROM meta)
        BEGIN SELECT RAISE(ABORT, 'event revision is not above meta.revision'); END;
        CREATE TRIGGER events_move_revision AFTER INSERT ON events
        BEGIN UPDATE meta SET revision = NEW.revision; END;

        CREATE TRIGGER sessions_id_increases BEFORE INSERT ON sessions
        WHEN NEW.id <= (SELECT last_session_id FROM meta)
        BEGIN SELECT RAISE(ABORT, 'session id is not above meta.last_session_id'); END;
        CREATE TRIGGER sessions_move_counter AFTER INSERT ON sessions
        BEGIN UPDATE meta SET last_session_id = NEW.id; END;
        """,
        // Version 2. Every commit inserted one entry per event into events_by_key, at a place set by its key, so a
        // group of N events on N keys dirtied up to N leaf pages of the index (and WAL writes one frame per page):
        // about 60 page writes per commit under load. Catch-up reads are rare and bounded by retention; they now
        // walk the revision order and filter on the key range.
        """
        DROP INDEX events_by_key;
        """,
        // Version 3. The two event triggers ran a trigger program for every event inserted: in a group commit of
        // 64 events, 45% of the mallocs and a quarter of the time. `meta.revision` now moves once per commit, with
        // one guarded UPDATE that refuses a commit whose first event is not above it (WriterDatabase.commit). No
        // trigger on `meta` replaces them: with one, that UPDATE cost ~30 µs more CPU per commit (measured on
        // hand-offs, one commit each), more than the per-event triggers did.
        """
        DROP TRIGGER events_revision_increases;
        DROP TRIGGER events_move_revision;
        """,
    ]

    /// The version this build writes.
    static var latestVersion: Int { Self.migrations.count }

    /// Brings the schema up to ``latestVersion`` in one write transaction.
    /// - Parameters:
    ///   - connection: A read-write connection outside any transaction.
    ///   - logger: Where to note a migration.
    /// - Throws: ``UnsupportedSchemaVersion`` for a database written by a newer build; ``SQLiteError``.
    static func migrate(_ connection: Connection, logger: Logger) throws {
        let found = try connection.transaction(.immediate) { () throws -> Int in
            let found = Int(try connection.pragma("user_version") ?? "0") ?? 0
            guard found <= Self.latestVersion else {
                throw UnsupportedSchemaVersion(found: found, supported: Self.latestVersion)
            }
            guard found < Self.latestVersion else { return found }
            for migration in Self.migrations[found...] {
                try connection.execute(migration)
            }
            try connection.execute("PRAGMA user_version = \(Self.latestVersion)")
            return found
        }
        if found < Self.latestVersion {
            logger.info("migrated the store schema", metadata: ["from": "\(found)", "to": "\(Self.latestVersion)"])
        }
    }
}
