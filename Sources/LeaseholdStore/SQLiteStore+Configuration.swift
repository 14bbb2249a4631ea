extension SQLiteStore {
    /// How to open and maintain the database.
    public struct Configuration: Hashable, Sendable {
        /// SQLite's `synchronous` setting in WAL mode (docs/protocol.md, "What the server guarantees").
        public enum Synchronous: String, Hashable, Sendable, CaseIterable {
            /// Every commit is synced to disk before it is acknowledged: nothing acknowledged is ever lost.
            case full
            /// Commits are synced at checkpoints only: the database stays consistent, but a power loss can drop the
            /// last commits, and so the last grants, even though they were acknowledged.
            case normal
        }

        /// The database file; created if missing (its folder must exist). `-wal` and `-shm` files sit beside it.
        public var path: String
        /// How hard commits sync. `.full` by default.
        public var synchronous: Synchronous
        /// Keep this many events; older ones are pruned, oldest first. Pruning by count starts once 1% of the limit
        /// (at least 1, at most ``retentionChunkSize``) is due and then prunes down to the limit, so that a busy
        /// log is pruned in batches instead of after every commit: between prunes it may hold that many more.
        public var eventRetention: Int
        /// Prune events older than this (by their wall time), oldest first.
        public var eventMaxAge: Duration
        /// Prune at most this many events per transaction, so that commits never wait behind a large delete.
        public var retentionChunkSize: Int

        /// Creates a configuration.
        /// - Parameters:
        ///   - path: The database file.
        ///   - synchronous: `.full` (default) or `.normal`.
        ///   - eventRetention: Events to keep at most; 100,000 by default.
        ///   - eventMaxAge: The oldest event to keep; 7 days by default.
        ///   - retentionChunkSize: Events pruned per transaction at most; 5,000 by default.
        public init(
            path: String,
            synchronous: Synchronous = .full,
            eventRetention: Int = 100_000,
            eventMaxAge: Duration = .seconds(7 * 24 * 3600),
            retentionChunkSize: Int = 5_000
        ) {
            self.path = path
            self.synchronous = synchronous
            self.eventRetention = eventRetention
            self.eventMaxAge = eventMaxAge
            self.retentionChunkSize = retentionChunkSize
        }
    }
}
