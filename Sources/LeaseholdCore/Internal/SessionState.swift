/// Everything the lock table knows about one live session.
struct SessionState: Sendable {
    /// The durable part: id, secret hash, ttl, owner, name.
    var record: SessionRecord
    /// When the session expires unless it is kept alive. Monotonic, see ``Instant``.
    var deadline: Instant
    /// The deadline of this session's one entry in the expiry heap; never later than ``deadline``.
    var heapDeadline: Instant
    /// Keys this session holds.
    var held: Set<LockKey> = []
    /// This session's queued waits, at most one per key.
    var waits: [LockKey: WaiterID] = [:]

    var id: SessionID { self.record.id }
}

/// One queued `Acquire`.
struct Waiter: Sendable {
    var id: WaiterID
    var key: LockKey
    var session: SessionID
    /// When the wait times out.
    var deadline: Instant
    /// When the wait began (kept when a retry takes the place of an earlier wait).
    var since: WallTime
}
