import HeapModule

/// All sessions, locks and wait queues of one server: the pure state machine behind every lock RPC.
///
/// `LockTable` does no I/O, reads no clock and draws no random numbers. Time comes in as `now`, and every
/// mutating call returns an outcome for the caller plus a list of ``Effect``s for the caller to carry out:
/// ``Effect/persist(_:)`` mutations must be committed durably, in order, before any reply that depends on them
/// (the server then publishes the persisted events to watchers); ``Effect/grant(_:_:)`` and ``Effect/fail(_:_:)``
/// answer `Acquire` calls that were queued earlier.
///
/// Every change of lock state (grant, release, expiry, force-release) moves ``revision`` by exactly one and
/// produces exactly one `.persist(.event(_))`. A grant's fencing token is the revision of its event, so tokens
/// strictly increase across keys and, because the revision is restored from the store, across restarts.
///
/// One owner drives the table (the server's `LockService` actor), and one timer sleeps until ``nextDeadline``
/// and then calls ``expire(now:)``:
///
/// ```swift
/// var table = LockTable(configuration: .init(lockDelay: .seconds(5)))
/// let (opened, effects) = table.openSession(ttl: .zero, secretHash: hash, owner: "ops", name: "worker-1", now: now)
/// // commit `effects`, then reply with `opened`
/// guard case .opened(let session) = opened else { return }
/// let (outcome, more) = table.acquire(key: "jobs/42", session: session.id, wait: .seconds(30), now: now)
/// switch outcome {
/// case .granted(let lock): print("token", lock.fencingToken)  // after `more` is durable
/// case .enqueued(let waiter): print("queued as", waiter)       // a later .grant(waiter, _) or .fail(waiter, _)
/// default: break
/// }
/// ```
public struct LockTable: Sendable {
    // The state below is internal rather than private only so that the `LockTable+*.swift` extensions can reach
    // it; nothing outside the module sees it.

    /// The limits and timings this table enforces.
    public let configuration: Configuration

    /// The server-wide revision: the revision of the latest event, and the source of fencing tokens.
    ///
    /// Strictly increasing, by exactly one per event, on every path; restored from the store on restart.
    public internal(set) var revision: UInt64

    /// The highest session id handed out; the next session gets the one after it.
    var lastSessionID: SessionID
    /// The last waiter id handed out (waiter ids live only in memory).
    var lastWaiterID: UInt64 = 0

    /// Live sessions: open, not yet closed and not yet processed by ``expire(now:)``.
    var sessions: [SessionID: SessionState] = [:]
    /// Held locks.
    var locks: [LockKey: LockInfo] = [:]
    /// Wait queues of keys with at least one live waiter.
    var queues: [LockKey: WaitQueue] = [:]
    /// Live waiters.
    var waiters: [WaiterID: Waiter] = [:]
    /// Free keys under a lock delay, and when each delay ends.
    var delays: [LockKey: Instant] = [:]

    /// One entry per session, never later than its real deadline (see ``SessionState/heapDeadline``).
    var sessionDeadlines = Heap<DeadlineEntry<SessionID>>()
    /// One entry per waiter ever queued; entries of waiters that are gone are skipped when they surface.
    var waitDeadlines = Heap<DeadlineEntry<WaiterID>>()
    /// One entry per lock delay ever started; entries of delays that are over are skipped when they surface.
    var delayDeadlines = Heap<DeadlineEntry<LockKey>>()

    /// What the table did since it was created (metrics); see ``Statistics``.
    public internal(set) var statistics = Statistics()

    /// Creates an empty table, as for a new database.
    /// - Parameter configuration: Limits and timings; the defaults are those docs/protocol.md names.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.revision = 0
        self.lastSessionID = SessionID(0)
    }

    /// Rebuilds the table from what the store kept.
    ///
    /// Every session gets a fresh deadline of `now` + its TTL (a grace period to resume, docs/protocol.md), even if its
    /// old deadline passed while the server was down. The revision and the session counter continue from the
    /// persisted values and never go back. Waits and lock delays are not durable and start empty.
    ///
    /// - Parameters:
    ///   - state: What the store's `load()` returned. Every lock must belong to one of its sessions.
    ///   - configuration: Limits and timings.
    ///   - now: The time of the restart.
    public init(restoring state: PersistedState, configuration: Configuration = .init(), now: Instant) {
        self.init(configuration: configuration)
        self.revision = state.revision
        self.lastSessionID = state.lastSessionID
        for record in state.sessions {
            precondition(self.sessions[record.id] == nil, "persisted state lists session \(record.id) twice")
            let deadline = now + record.ttl
            self.sessions[record.id] = SessionState(record: record, deadline: deadline, heapDeadline: deadline)
            self.lastSessionID = max(self.lastSessionID, record.id)
        }
        for var lock in state.locks {
            let key = LockKey(lock.key)
            guard let record = self.sessions[lock.sessionID]?.record else {
                preconditionFailure("persisted lock \(key) belongs to unknown session \(lock.sessionID)")
            }
            precondition(self.locks[key] == nil, "persisted state lists lock \(key) twice")
            lock.sessionTTL = record.ttl
            self.locks[key] = lock
            self.sessions[lock.sessionID]!.held.insert(key)
            self.revision = max(self.revision, lock.fencingToken)
        }
        self.sessionDeadlines = Heap(
            self.sessions.values.map { DeadlineEntry(deadline: $0.deadline, id: $0.id) }
        )
    }
}

// MARK: - Configuration

extension LockTable {
    /// Limits and timings of a lock table.
    public struct Configuration: Hashable, Sendable {
        /// The TTL of a session opened with a TTL of zero. 10 s.
        public var defaultTTL: Duration
        /// The shortest TTL a session may ask for. 1 s.
        public var minTTL: Duration
        /// The longest TTL a session may ask for. 300 s.
        public var maxTTL: Duration
        /// How many sessions may be open at once.
        public var maxSessions: Int
        /// How many waits may queue on one key.
        public var maxWaitersPerKey: Int
        /// The longest key, in UTF-8 bytes.
        public var maxKeyBytes: Int
        /// How long a key stays ungrantable after its lock was lost by expiry or force-release (`--lock-delay`).
        public var lockDelay: Duration

        /// Creates a configuration; every default is the one docs/protocol.md names.
        /// - Parameters:
        ///   - defaultTTL: The TTL of a session opened with a TTL of zero.
        ///   - minTTL: The shortest TTL allowed.
        ///   - maxTTL: The longest TTL allowed.
        ///   - maxSessions: How many sessions may be open at once.
        ///   - maxWaitersPerKey: How many waits may queue on one key.
        ///   - maxKeyBytes: The longest key, in UTF-8 bytes.
        ///   - lockDelay: How long a key lost by expiry or force-release stays ungrantable; zero for none.
        public init(
            defaultTTL: Duration = .seconds(10),
            minTTL: Duration = .seconds(1),
            maxTTL: Duration = .seconds(300),
            maxSessions: Int = 1_000_000,
            maxWaitersPerKey: Int = 10_000,
            maxKeyBytes: Int = 512,
            lockDelay: Duration = .zero
        ) {
            precondition(minTTL > .zero && minTTL <= defaultTTL && defaultTTL <= maxTTL, "TTL bounds out of order")
            precondition(maxSessions >= 0 && maxWaitersPerKey >= 0 && maxKeyBytes >= 1, "negative limit")
            precondition(lockDelay >= .zero, "negative lock delay")
            self.defaultTTL = defaultTTL
            self.minTTL = minTTL
            self.maxTTL = maxTTL
            self.maxSessions = maxSessions
            self.maxWaitersPerKey = maxWaitersPerKey
            self.maxKeyBytes = maxKeyBytes
            self.lockDelay = lockDelay
        }
    }
}

// MARK: - Effects

extension LockTable {
    /// Work the caller does after a transition, in the order given.
    public enum Effect: Hashable, Sendable {
        /// Commit this mutation durably, after the ones before it and before any reply that depends on it.
        /// A persisted `.event` is then published to watchers.
        case persist(Mutation)
        /// A queued `Acquire` is granted: answer it with this lock once the persists of the same call are durable.
        case grant(WaiterID, LockInfo)
        /// A queued `Acquire` ends without a grant: answer it with this failure.
        case fail(WaiterID, WaitFailure)
    }

    /// Why a queued `Acquire` ended without a grant.
    public enum WaitFailure: Hashable, Sendable {
        /// Its wait ran out (`DEADLINE_EXCEEDED`).
        case timedOut
        /// Its session expired (`SESSION_EXPIRED`).
        case sessionExpired
        /// Its session was closed.
        case sessionClosed
        /// A newer `Acquire` of the same session on the same key took its place, or the caller cancelled it
        /// (`CANCELLED`).
        case cancelled
    }
}
