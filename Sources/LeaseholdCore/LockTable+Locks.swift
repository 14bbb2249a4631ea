// MARK: - Locks

extension LockTable {
    /// Acquires `key` for a session, now or after a FIFO wait.
    ///
    /// - A session that already holds the key gets its grant back (same token, no effects): `Acquire` is safe to
    ///   retry after a reconnect.
    /// - A free key with no queue and no running lock delay is granted at once: the revision moves by one and the
    ///   new token is the new revision.
    /// - Otherwise a `wait` of zero is a try-lock and answers ``AcquireOutcome/held(by:delayedUntil:)``; a positive
    ///   `wait` queues the call until `now + wait`. If the session already waits on the key, the new call takes the
    ///   old one's place in the queue and the old one fails with ``WaitFailure/cancelled``.
    ///
    /// ```swift
    /// let (outcome, effects) = table.acquire(key: "jobs/42", session: id, wait: .seconds(30), now: now)
    /// ```
    /// - Parameters:
    ///   - key: The key: 1...``Configuration/maxKeyBytes`` bytes of UTF-8, no NUL.
    ///   - session: The acquiring session.
    ///   - wait: How long to wait in the queue; zero (or less) for a try-lock.
    ///   - now: The current time.
    /// - Returns: The outcome and the effects: the grant's persist, and any grant to a waiter whose lock delay had
    ///   ended before ``expire(now:)`` got to it, or the failure of a superseded wait.
    public mutating func acquire(
        key: String,
        session sessionID: SessionID,
        wait: Duration,
        now: Instant
    ) -> (AcquireOutcome, [Effect]) {
        var effects: [Effect] = []
        let outcome = self.acquire(key: key, session: sessionID, wait: wait, now: now, into: &effects)
        return (outcome, effects)
    }

    /// ``acquire(key:session:wait:now:)`` appending its effects to `effects`, so that a caller that handles many
    /// transitions can reuse one array for them instead of allocating one per transition.
    /// - Parameters:
    ///   - key: The key: 1...``Configuration/maxKeyBytes`` bytes of UTF-8, no NUL.
    ///   - session: The acquiring session.
    ///   - wait: How long to wait in the queue; zero (or less) for a try-lock.
    ///   - now: The current time.
    ///   - effects: Where the effects are appended.
    /// - Returns: The outcome.
    public mutating func acquire(
        key: String,
        session sessionID: SessionID,
        wait: Duration,
        now: Instant,
        into effects: inout [Effect]
    ) -> AcquireOutcome {
        defer { self.compactHeapsIfNeeded() }
        if let reason = self.invalidKeyReason(key) { return .invalidKey(reason) }
        guard let session = self.sessions[sessionID] else { return .sessionNotFound }
        guard session.deadline > now else { return .sessionExpired }
        let key = LockKey(key)

        // A lock delay that is over but not yet processed ends here, so its queue goes first.
        self.handOver(key, now: now, into: &effects)

        if let holder = self.locks[key] {
            if holder.sessionID == sessionID { return .granted(holder) }
        } else if self.activeDelay(on: key, now: now) == nil {
            precondition(self.queues[key] == nil, "free grantable key \(key) has waiters")
            return .granted(self.grant(key, to: sessionID, now: now, into: &effects))
        }

        guard wait > .zero else {
            let holder = self.locks[key]
            return .held(by: holder, delayedUntil: holder == nil ? self.activeDelay(on: key, now: now) : nil)
        }
        if let old = self.sessions[sessionID]!.waits[key] {
            let id = self.supersede(old, deadline: now + wait)
            effects.append(.fail(old, .cancelled))
            return .enqueued(id)
        }
        guard (self.queues[key]?.liveCount ?? 0) < self.configuration.maxWaitersPerKey else {
            return .tooManyWaiters
        }
        return .enqueued(self.enqueue(key, session: sessionID, deadline: now + wait, now: now))
    }

    /// Releases a lock held by a session, then hands the key to the head of its queue (a clean release starts no
    /// lock delay).
    /// - Parameters:
    ///   - key: The key.
    ///   - session: The holding session.
    ///   - fencingToken: The token of the session's grant; any other token gets ``ReleaseOutcome/notHolder``.
    ///   - now: The current time.
    /// - Returns: The outcome and the effects: the `released` event, and the hand-over's grant if any.
    public mutating func release(
        key: String,
        session sessionID: SessionID,
        fencingToken: UInt64,
        now: Instant
    ) -> (ReleaseOutcome, [Effect]) {
        var effects: [Effect] = []
        let outcome = self.release(key: key, session: sessionID, fencingToken: fencingToken, now: now, into: &effects)
        return (outcome, effects)
    }

    /// ``release(key:session:fencingToken:now:)`` appending its effects to `effects`, so that a caller can reuse one
    /// array for many transitions.
    /// - Parameters:
    ///   - key: The key.
    ///   - session: The holding session.
    ///   - fencingToken: The token of the session's grant; any other token gets ``ReleaseOutcome/notHolder``.
    ///   - now: The current time.
    ///   - effects: Where the effects are appended.
    /// - Returns: The outcome.
    public mutating func release(
        key: String,
        session sessionID: SessionID,
        fencingToken: UInt64,
        now: Instant,
        into effects: inout [Effect]
    ) -> ReleaseOutcome {
        guard let session = self.sessions[sessionID] else { return .sessionNotFound }
        guard session.deadline > now else { return .sessionExpired }
        let key = LockKey(key)
        guard let lock = self.locks[key], lock.sessionID == sessionID, lock.fencingToken == fencingToken else {
            return .notHolder
        }
        defer { self.compactHeapsIfNeeded() }
        return .released(revision: self.releaseLock(key, as: .released, now: now, into: &effects))
    }

    /// Ends whoever holds `key`, as an admin does: a `forceReleased` event carrying the holder's session, owner and
    /// token, then the lock delay if one is configured, else the hand-over. The holder's session lives on.
    /// Permission checks are the caller's.
    /// - Parameters:
    ///   - key: The key.
    ///   - now: The current time.
    /// - Returns: The released lock and the revision of its event, and the effects.
    public mutating func forceRelease(key: String, now: Instant) -> (ForceReleaseOutcome, [Effect]) {
        let key = LockKey(key)
        guard let lock = self.locks[key] else { return (.notFound, []) }
        defer { self.compactHeapsIfNeeded() }
        var effects: [Effect] = []
        let revision = self.releaseLock(key, as: .forceReleased, now: now, into: &effects)
        return (.released(lock, revision: revision), effects)
    }

    /// Takes a queued `Acquire` out of its queue because its caller cancelled it or its RPC deadline passed.
    ///
    /// The caller answers that call itself, so no ``Effect/fail(_:_:)`` is returned for it. An unknown or already
    /// finished waiter is ignored.
    /// - Parameter waiter: The waiter from ``AcquireOutcome/enqueued(_:)``.
    /// - Returns: The effects; a removal never makes a key grantable, so this is empty today.
    public mutating func cancelWait(_ waiter: WaiterID) -> [Effect] {
        guard self.waiters[waiter] != nil else { return [] }
        self.removeWaiter(waiter)
        self.compactHeapsIfNeeded()
        return []
    }

    /// Why `key` is not a valid lock key, or nil if it is one.
    func invalidKeyReason(_ key: String) -> String? {
        let bytes = key.utf8.count
        if bytes == 0 { return "key is empty" }
        if bytes > self.configuration.maxKeyBytes {
            return "key is \(bytes) bytes, more than the limit of \(self.configuration.maxKeyBytes)"
        }
        if key.utf8.contains(0) { return "key contains a NUL byte" }
        return nil
    }
}
