// MARK: - Queries

extension LockTable {
    /// A key's holder, queue and the current revision, as `Describe` answers. A free key has no holder.
    /// - Parameter key: The key.
    /// - Returns: The key's state.
    public func describe(key: String) -> Description {
        let key = LockKey(key)
        let queue = (self.queues[key]?.live(isLive: { self.waiters[$0] != nil }) ?? []).map { id in
            let waiter = self.waiters[id]!
            return WaiterInfo(
                sessionID: waiter.session,
                owner: self.sessions[waiter.session]!.record.owner,
                waitingSince: waiter.since
            )
        }
        return Description(holder: self.locks[key], queue: queue, revision: self.revision)
    }

    /// Whether `fencingToken` is the current grant of `key`, as `Validate` answers.
    /// - Parameters:
    ///   - key: The key the token was granted on.
    ///   - fencingToken: The token to check.
    /// - Returns: Whether it is the current grant, the current holder if any, and the current revision.
    public func validate(key: String, fencingToken: UInt64) -> Validation {
        let holder = self.locks[LockKey(key)]
        return Validation(valid: holder?.fencingToken == fencingToken, holder: holder, revision: self.revision)
    }

    /// Held locks whose key starts with the bytes of `prefix`, sorted by key bytes, as `List` answers. O(n).
    /// - Parameters:
    ///   - prefix: A byte prefix; empty matches every key.
    ///   - limit: At most this many locks; nil for all.
    /// - Returns: The locks.
    public func list(prefix: String, limit: Int? = nil) -> [LockInfo] {
        let keys = self.locks.keys.filter { $0.hasBytePrefix(prefix) }.sorted()
        return keys.prefix(limit ?? keys.count).map { self.locks[$0]! }
    }

    /// The number of held locks.
    public var lockCount: Int { self.locks.count }

    /// The number of queued `Acquire` calls over all keys.
    public var waiterCount: Int { self.waiters.count }
}
