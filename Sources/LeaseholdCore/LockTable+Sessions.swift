import HeapModule

// MARK: - Sessions

extension LockTable {
    /// Opens a session.
    ///
    /// The new id is one above the highest id ever handed out (restored from the store, so ids are never reused).
    ///
    /// ```swift
    /// let (outcome, effects) = table.openSession(ttl: .seconds(15), secretHash: sha256(secret), owner: "ops",
    ///                                            name: "worker-1", now: now)
    /// ```
    /// - Parameters:
    ///   - ttl: The session's TTL; `.zero` asks for ``Configuration/defaultTTL``.
    ///   - secretHash: SHA-256 of the session secret; the secret itself never reaches the table.
    ///   - owner: The principal opening the session.
    ///   - name: The client-chosen name.
    ///   - now: The current time.
    /// - Returns: The outcome, and on success one `.persist(.openSession(_))` effect.
    public mutating func openSession(
        ttl: Duration,
        secretHash: [UInt8],
        owner: String,
        name: String,
        now: Instant
    ) -> (OpenSessionOutcome, [Effect]) {
        let ttl = ttl == .zero ? self.configuration.defaultTTL : ttl
        guard ttl >= self.configuration.minTTL, ttl <= self.configuration.maxTTL else { return (.invalidTTL, []) }
        guard self.sessions.count < self.configuration.maxSessions else { return (.tooManySessions, []) }
        let id = SessionID(self.lastSessionID.rawValue + 1)
        self.lastSessionID = id
        let record = SessionRecord(id: id, secretHash: secretHash, ttl: ttl, owner: owner, name: name)
        let deadline = now + ttl
        self.sessions[id] = SessionState(record: record, deadline: deadline, heapDeadline: deadline)
        self.sessionDeadlines.insert(DeadlineEntry(deadline: deadline, id: id))
        let info = SessionDescription(id: id, ttl: ttl, expiresIn: ttl, owner: owner, name: name, locks: [])
        return (.opened(info), [.persist(.openSession(record))])
    }

    /// Resumes a session after a reconnect, proving it with the hash of its secret. Counts as a keepalive.
    ///
    /// The secret is checked before the deadline, so a caller without it learns only whether the id exists.
    /// - Parameters:
    ///   - id: The session.
    ///   - secretHash: SHA-256 of the secret the client presented; compared in constant time.
    ///   - now: The current time.
    /// - Returns: The session with the locks it holds, or why it cannot be resumed.
    public mutating func resumeSession(_ id: SessionID, secretHash: [UInt8], now: Instant) -> ResumeOutcome {
        guard let index = self.sessions.index(forKey: id) else { return .notFound }
        let session = self.sessions.values[index]
        guard Self.constantTimeEqual(session.record.secretHash, secretHash) else { return .wrongSecret }
        guard session.deadline > now else { return .expired }
        self.refresh(at: index, now: now)
        return .resumed(self.info(of: self.sessions.values[index], now: now))
    }

    /// Proves a session alive: its deadline becomes `now + ttl`. Never persisted.
    /// - Parameters:
    ///   - id: The session.
    ///   - now: The current time.
    /// - Returns: The TTL and time left, or why the session is not alive.
    public mutating func keepAlive(_ id: SessionID, now: Instant) -> KeepAliveOutcome {
        guard let index = self.sessions.index(forKey: id) else { return .notFound }
        guard self.sessions.values[index].deadline > now else { return .expired }
        let ttl = self.sessions.values[index].record.ttl
        self.statistics.keepAliveMarginSeconds.record(self.sessions.values[index].deadline - now)
        let deadline = self.refresh(at: index, now: now)
        return .alive(ttl: ttl, expiresIn: deadline - now)
    }

    /// Closes a session: releases every lock it holds (a `released` event each, in key order, each followed by
    /// its hand-over), fails its queued waits with ``WaitFailure/sessionClosed``, and persists its removal.
    ///
    /// A session past its deadline is not closed here but left to ``expire(now:)``, which releases its locks as
    /// expired (with the lock delay): the answer is ``CloseOutcome/notFound`` with no effects.
    /// - Parameters:
    ///   - id: The session.
    ///   - now: The current time.
    /// - Returns: How many locks were released, and the effects.
    public mutating func closeSession(_ id: SessionID, now: Instant) -> (CloseOutcome, [Effect]) {
        guard let session = self.sessions[id], session.deadline > now else { return (.notFound, []) }
        var effects: [Effect] = []
        let released = self.endSession(
            id,
            releasingAs: .released,
            failingWaitsWith: .sessionClosed,
            now: now,
            into: &effects
        )
        self.compactHeapsIfNeeded()
        return (.closed(released: released), effects)
    }

    /// Describes a session: TTL, time left, owner, name and the locks it holds.
    /// - Parameters:
    ///   - id: The session.
    ///   - now: The current time, for ``SessionDescription/expiresIn``.
    /// - Returns: The session, or nil if it is not live (a session past its deadline that ``expire(now:)`` has
    ///   not processed yet is still returned, with `expiresIn` zero).
    public func session(_ id: SessionID, now: Instant) -> SessionDescription? {
        self.sessions[id].map { self.info(of: $0, now: now) }
    }

    /// The number of live sessions.
    public var sessionCount: Int { self.sessions.count }

    /// The live sessions with the least time left before they expire, soonest first (ties by id), for an operator's
    /// view of who is about to lose their locks. One pass over the sessions, keeping the `limit` soonest.
    /// - Parameters:
    ///   - limit: At most this many sessions.
    ///   - now: The current time, for ``SessionDescription/expiresIn``.
    /// - Returns: The sessions, each with the locks it holds.
    public func sessionsClosestToExpiry(limit: Int, now: Instant) -> [SessionDescription] {
        guard limit > 0 else { return [] }
        // Sorted soonest first; a session replaces the latest kept one only when it is sooner.
        var soonest: [(deadline: Instant, id: SessionID)] = []
        soonest.reserveCapacity(limit + 1)
        for session in self.sessions.values {
            let entry = (deadline: session.deadline, id: session.id)
            if soonest.count == limit, let last = soonest.last, (last.deadline, last.id) <= (entry.deadline, entry.id) {
                continue
            }
            let index = soonest.firstIndex { (entry.deadline, entry.id) < ($0.deadline, $0.id) } ?? soonest.endIndex
            soonest.insert(entry, at: index)
            if soonest.count > limit { soonest.removeLast() }
        }
        return soonest.map { self.info(of: self.sessions[$0.id]!, now: now) }
    }

    func info(of session: SessionState, now: Instant) -> SessionDescription {
        SessionDescription(
            id: session.id,
            ttl: session.record.ttl,
            expiresIn: max(.zero, session.deadline - now),
            owner: session.record.owner,
            name: session.record.name,
            locks: session.held.sorted().map { self.locks[$0]! }
        )
    }

    /// Compares two byte strings in time that depends only on their lengths.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: lhs.count ^ rhs.count) | (lhs.count == rhs.count ? 0 : 1)
        let count = max(lhs.count, rhs.count)
        for index in 0..<count {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}
