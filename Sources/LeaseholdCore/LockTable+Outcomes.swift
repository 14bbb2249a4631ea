// The answers of the lock table's transitions and queries. The server maps each case to a reply or a `Status`.

extension LockTable {
    /// A live session as `OpenSession`, `ResumeSession` and lookups describe it (`SessionInfo` on the wire,
    /// without the secret, which the table never sees).
    public struct SessionDescription: Hashable, Sendable {
        /// The session's id.
        public var id: SessionID
        /// The session's TTL.
        public var ttl: Duration
        /// Time left until the session expires without a keepalive; zero if its deadline has passed.
        public var expiresIn: Duration
        /// The principal that opened the session.
        public var owner: String
        /// The client-chosen name from `OpenSession`.
        public var name: String
        /// The locks the session holds, sorted by key.
        public var locks: [LockInfo]

        /// Creates a session description.
        /// - Parameters:
        ///   - id: The session's id.
        ///   - ttl: The session's TTL.
        ///   - expiresIn: Time left until it expires.
        ///   - owner: The principal that opened it.
        ///   - name: The client-chosen name.
        ///   - locks: The locks it holds.
        public init(id: SessionID, ttl: Duration, expiresIn: Duration, owner: String, name: String, locks: [LockInfo]) {
            self.id = id
            self.ttl = ttl
            self.expiresIn = expiresIn
            self.owner = owner
            self.name = name
            self.locks = locks
        }
    }

    /// The answer to ``LockTable/openSession(ttl:secretHash:owner:name:now:)``.
    public enum OpenSessionOutcome: Hashable, Sendable {
        /// The session is open (once the `.openSession` persist is durable).
        case opened(SessionDescription)
        /// The TTL is outside ``Configuration/minTTL``...``Configuration/maxTTL`` (`INVALID_ARGUMENT`).
        case invalidTTL
        /// ``Configuration/maxSessions`` sessions are open already (`RESOURCE_EXHAUSTED`).
        case tooManySessions
    }

    /// The answer to ``LockTable/resumeSession(_:secretHash:now:)``.
    public enum ResumeOutcome: Hashable, Sendable {
        /// The secret matched; the session's deadline was refreshed.
        case resumed(SessionDescription)
        /// No such session (`NOT_FOUND`).
        case notFound
        /// The session's deadline has passed (`SESSION_EXPIRED`).
        case expired
        /// The secret does not match (`PERMISSION_DENIED`).
        case wrongSecret
    }

    /// The answer to ``LockTable/keepAlive(_:now:)``.
    public enum KeepAliveOutcome: Hashable, Sendable {
        /// The session's deadline is now `now + ttl`.
        case alive(ttl: Duration, expiresIn: Duration)
        /// The session's deadline has passed (`SESSION_EXPIRED`).
        case expired
        /// No such session (`NOT_FOUND`).
        case notFound
    }

    /// The answer to ``LockTable/closeSession(_:now:)``.
    public enum CloseOutcome: Hashable, Sendable {
        /// The session is gone; it held `released` locks.
        case closed(released: Int)
        /// No such live session (never opened, closed, or past its deadline) (`NOT_FOUND`).
        case notFound
    }

    /// The answer to ``LockTable/acquire(key:session:wait:now:)``.
    public enum AcquireOutcome: Hashable, Sendable {
        /// The lock is the session's: a new grant, or the one it already held (same token).
        case granted(LockInfo)
        /// The call waits in the key's queue; a later ``Effect/grant(_:_:)`` or ``Effect/fail(_:_:)`` ends it.
        case enqueued(WaiterID)
        /// A try-lock found the key held by `holder`, or free but under a lock delay until `delayedUntil`
        /// (`LOCK_HELD`; the holder is nil during a delay).
        case held(by: LockInfo?, delayedUntil: Instant?)
        /// The key is not 1...``Configuration/maxKeyBytes`` bytes of UTF-8 without NUL (`INVALID_ARGUMENT`).
        case invalidKey(String)
        /// No such session (`NOT_FOUND`).
        case sessionNotFound
        /// The session's deadline has passed (`SESSION_EXPIRED`).
        case sessionExpired
        /// ``Configuration/maxWaitersPerKey`` calls wait on the key already (`RESOURCE_EXHAUSTED`).
        case tooManyWaiters
    }

    /// The answer to ``LockTable/release(key:session:fencingToken:now:)``.
    public enum ReleaseOutcome: Hashable, Sendable {
        /// The lock is released; `revision` is the revision of its `released` event.
        case released(revision: UInt64)
        /// The session does not hold the key with this token (`NOT_LOCK_HOLDER`).
        case notHolder
        /// No such session (`NOT_FOUND`).
        case sessionNotFound
        /// The session's deadline has passed (`SESSION_EXPIRED`).
        case sessionExpired
    }

    /// The answer to ``LockTable/forceRelease(key:now:)``.
    public enum ForceReleaseOutcome: Hashable, Sendable {
        /// The lock that was released, and the revision of its `forceReleased` event.
        case released(LockInfo, revision: UInt64)
        /// Nobody holds the key (`NOT_FOUND`).
        case notFound
    }

    /// A key's state as `Describe` shows it.
    public struct Description: Hashable, Sendable {
        /// The current holder, if any.
        public var holder: LockInfo?
        /// The queued waits, in grant order.
        public var queue: [WaiterInfo]
        /// The table's current revision.
        public var revision: UInt64

        /// Creates a description.
        /// - Parameters:
        ///   - holder: The current holder, if any.
        ///   - queue: The queued waits, in grant order.
        ///   - revision: The current revision.
        public init(holder: LockInfo?, queue: [WaiterInfo], revision: UInt64) {
            self.holder = holder
            self.queue = queue
            self.revision = revision
        }
    }
}

extension LockTable {
    /// Whether a token is a key's current grant, as `Validate` reports it.
    public struct Validation: Hashable, Sendable {
        /// The token is the key's current grant.
        public var valid: Bool
        /// The key's current holder, if any.
        public var holder: LockInfo?
        /// The revision the answer was read at.
        public var revision: UInt64

        public init(valid: Bool, holder: LockInfo?, revision: UInt64) {
            self.valid = valid
            self.holder = holder
            self.revision = revision
        }
    }

    /// Held locks under a prefix, as `List` reports them.
    public struct Listing: Hashable, Sendable {
        /// The locks, sorted by key bytes.
        public var locks: [LockInfo]
        /// The revision the answer was read at.
        public var revision: UInt64

        public init(locks: [LockInfo], revision: UInt64) {
            self.locks = locks
            self.revision = revision
        }
    }

    /// A session's lease after a keepalive.
    public struct SessionLease: Hashable, Sendable {
        /// The session's TTL.
        public var ttl: Duration
        /// Time left until the session expires without another keepalive.
        public var expiresIn: Duration

        public init(ttl: Duration, expiresIn: Duration) {
            self.ttl = ttl
            self.expiresIn = expiresIn
        }
    }

    /// A lock ended by force, and the revision of its `forceReleased` event.
    public struct ForcedRelease: Hashable, Sendable {
        /// The lock as it was held.
        public var lock: LockInfo
        /// The revision of the release.
        public var revision: UInt64

        public init(lock: LockInfo, revision: UInt64) {
            self.lock = lock
            self.revision = revision
        }
    }
}
