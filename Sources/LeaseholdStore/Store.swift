public import LeaseholdCore

/// Durable storage for the lock table: load at start-up, then commit batches of mutations.
///
/// Nothing above this protocol knows SQL, so that a replicated backend can be a second implementation.
public protocol Store: AnyObject, Sendable {
    /// Reads everything needed to rebuild the lock table.
    /// - Throws: The backend's error when the data cannot be read.
    func load() throws -> PersistedState

    /// Queues `mutations` to be committed after every batch submitted before them.
    ///
    /// Batches that are queued while a commit is in progress are committed together in one transaction and
    /// one sync (group commit). `completion` runs once the batch is durable, or with the error that stopped it,
    /// on the store's own thread, in submission order. An empty batch is a barrier: it completes once every
    /// earlier batch is durable. A barrier's completion may block (and may call ``load()``); any other must not,
    /// since a store may run it on the event loop that its own I/O needs.
    /// - Parameters:
    ///   - mutations: The changes, in the order the lock table produced them.
    ///   - completion: Called exactly once.
    func submit(_ mutations: [Mutation], completion: @escaping @Sendable (Result<Void, any Error>) -> Void)

    /// Reads committed events with `revision >= start` whose key starts with `prefix`, oldest first.
    /// - Parameters:
    ///   - prefix: A byte prefix of the key; empty matches every key.
    ///   - start: The first revision wanted (inclusive).
    ///   - limit: At most this many events.
    /// - Returns: The events found and the oldest revision the log still keeps (``EventPage/compactRevision``).
    func events(prefix: String, from start: UInt64, limit: Int) async throws -> EventPage

    /// Prunes every event due under the retention limits now, after the work queued before it. The store also
    /// prunes on its own between commits; this is for tests and maintenance.
    /// - Throws: The backend's error; ``StoreClosed`` after ``close()``.
    func enforceRetention() async throws

    /// Stops accepting work, finishes what is queued, and closes the database.
    func close()

    /// The durations and batch counts of the group commits so far, failed ones included, as
    /// ``CommitStatistics/record(took:batches:)`` counted them. Barrier-only groups commit nothing and are not
    /// counted.
    var commitStatistics: CommitStatistics { get }
}

/// A page of the event log.
public struct EventPage: Hashable, Sendable {
    /// Matching events, oldest first.
    public var events: [Event]
    /// The oldest revision still kept: a watch from here succeeds, one from below gets `COMPACTED`.
    public var compactRevision: UInt64

    public init(events: [Event], compactRevision: UInt64) {
        self.events = events
        self.compactRevision = compactRevision
    }
}
