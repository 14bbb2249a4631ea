// The vocabulary shared by Core, Store, Wire, Server and Client (docs/protocol.md).

/// Identifies a session. Assigned by the lock table from a durable counter; never reused.
public struct SessionID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: SessionID, rhs: SessionID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(self.rawValue) }
}

/// Identifies one queued `Acquire` call. Assigned by the lock table; lives only in memory.
public struct WaiterID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: WaiterID, rhs: WaiterID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "w\(self.rawValue)" }
}

/// A granted lock: `LockInfo` on the wire.
public struct LockInfo: Hashable, Sendable {
    /// The locked key.
    public var key: String
    /// The holding session.
    public var sessionID: SessionID
    /// The revision of the grant; strictly increasing across all keys and restarts.
    public var fencingToken: UInt64
    /// The principal that opened the holding session.
    public var owner: String
    /// When the lock was granted.
    public var acquiredAt: WallTime
    /// The holding session's TTL.
    public var sessionTTL: Duration

    public init(
        key: String,
        sessionID: SessionID,
        fencingToken: UInt64,
        owner: String,
        acquiredAt: WallTime,
        sessionTTL: Duration
    ) {
        self.key = key
        self.sessionID = sessionID
        self.fencingToken = fencingToken
        self.owner = owner
        self.acquiredAt = acquiredAt
        self.sessionTTL = sessionTTL
    }
}

/// One entry of a key's FIFO queue, as `Describe` shows it: `Waiter` on the wire.
public struct WaiterInfo: Hashable, Sendable {
    public var sessionID: SessionID
    public var owner: String
    public var waitingSince: WallTime

    public init(sessionID: SessionID, owner: String, waitingSince: WallTime) {
        self.sessionID = sessionID
        self.owner = owner
        self.waitingSince = waitingSince
    }
}

/// A change of lock state. Every event moves the revision by exactly one and carries it.
public struct Event: Hashable, Sendable {
    /// What happened.
    public enum Kind: UInt8, Hashable, Sendable, CaseIterable {
        /// A lock was granted; ``Event/fencingToken`` equals ``Event/revision``.
        case acquired = 1
        /// The holder released the lock, or closed its session.
        case released = 2
        /// The holder's session expired.
        case expired = 3
        /// An admin force-released the lock.
        case forceReleased = 4
    }

    public var revision: UInt64
    public var kind: Kind
    public var key: String
    public var sessionID: SessionID
    /// The token of the grant this event is about (for `acquired`, the new grant's token).
    public var fencingToken: UInt64
    public var owner: String
    public var at: WallTime

    public init(
        revision: UInt64,
        kind: Kind,
        key: String,
        sessionID: SessionID,
        fencingToken: UInt64,
        owner: String,
        at: WallTime
    ) {
        self.revision = revision
        self.kind = kind
        self.key = key
        self.sessionID = sessionID
        self.fencingToken = fencingToken
        self.owner = owner
        self.at = at
    }
}

/// What is durable about a session. Deadlines are not: after a restart every session gets a fresh TTL.
public struct SessionRecord: Hashable, Sendable {
    public var id: SessionID
    /// SHA-256 of the session secret; the secret itself is never stored.
    public var secretHash: [UInt8]
    public var ttl: Duration
    /// The principal that opened the session.
    public var owner: String
    /// The client-chosen name from `OpenSession`.
    public var name: String

    public init(id: SessionID, secretHash: [UInt8], ttl: Duration, owner: String, name: String) {
        self.id = id
        self.secretHash = secretHash
        self.ttl = ttl
        self.owner = owner
        self.name = name
    }
}

/// A durable change, produced by the lock table and written by the store.
///
/// The locks table is a projection of the events: an `acquired` event inserts the key's lock row, every other
/// kind deletes it. The store keeps the revision at the highest event revision it has written, and the session
/// counter at the highest session id it has seen.
public enum Mutation: Hashable, Sendable {
    /// A new session.
    case openSession(SessionRecord)
    /// A session closed or expired. Its locks are released by their own `event` mutations, which come first.
    case removeSession(SessionID)
    /// A lock event, appended to the event log in the same transaction.
    case event(Event)
}

/// Everything the store returns at start-up to rebuild the lock table.
public struct PersistedState: Hashable, Sendable {
    /// The highest revision ever committed: the next token is above it.
    public var revision: UInt64
    /// The highest session id ever handed out.
    public var lastSessionID: SessionID
    public var sessions: [SessionRecord]
    /// Held locks, with ``LockInfo/sessionTTL`` taken from the holding session.
    public var locks: [LockInfo]

    public init(revision: UInt64, lastSessionID: SessionID, sessions: [SessionRecord], locks: [LockInfo]) {
        self.revision = revision
        self.lastSessionID = lastSessionID
        self.sessions = sessions
        self.locks = locks
    }

    /// A new, empty database.
    public static let empty = PersistedState(revision: 0, lastSessionID: SessionID(0), sessions: [], locks: [])
}
