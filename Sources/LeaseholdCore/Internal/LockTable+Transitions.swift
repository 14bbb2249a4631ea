import HeapModule

// The building blocks every public transition is made of. Each one keeps all maps, queues and heaps consistent
// and appends the effects it causes; the public entry points only decide which blocks to run.

extension LockTable {
    // MARK: - Events

    /// Moves the revision by one and records the event as a persist effect.
    /// - Returns: The event's revision.
    @discardableResult
    mutating func recordEvent(
        _ kind: Event.Kind,
        about lock: LockInfo,
        at now: Instant,
        into effects: inout [Effect]
    ) -> UInt64 {
        self.revision += 1
        let event = Event(
            revision: self.revision,
            kind: kind,
            key: lock.key,
            sessionID: lock.sessionID,
            fencingToken: lock.fencingToken,
            owner: lock.owner,
            at: now.wall
        )
        effects.append(.persist(.event(event)))
        return self.revision
    }

    // MARK: - Grants and releases

    /// Grants a free, grantable key to a live session: a new token, an `acquired` event.
    /// - Returns: The new lock.
    mutating func grant(
        _ key: LockKey,
        to sessionID: SessionID,
        now: Instant,
        into effects: inout [Effect]
    ) -> LockInfo {
        precondition(self.locks[key] == nil, "granting held key \(key)")
        guard let session = self.sessions[sessionID] else {
            preconditionFailure("granting to gone session \(sessionID)")
        }
        let lock = LockInfo(
            key: key.string,
            sessionID: sessionID,
            fencingToken: self.revision + 1,
            owner: session.record.owner,
            acquiredAt: now.wall,
            sessionTTL: session.record.ttl
        )
        let revision = self.recordEvent(.acquired, about: lock, at: now, into: &effects)
        precondition(revision == lock.fencingToken)
        self.locks[key] = lock
        self.sessions[sessionID]!.held.insert(key)
        self.statistics.grants += 1
        return lock
    }

    /// Ends a held lock with a `kind` event, starts the lock delay if the lock was lost (expiry, force-release),
    /// then hands the key over to its queue if it is grantable.
    /// - Returns: The revision of the release event.
    @discardableResult
    mutating func releaseLock(
        _ key: LockKey,
        as kind: Event.Kind,
        cause: ReleaseCause? = nil,
        now: Instant,
        into effects: inout [Effect]
    ) -> UInt64 {
        precondition(kind != .acquired, "a release cannot be an acquired event")
        guard let lock = self.locks.removeValue(forKey: key) else { preconditionFailure("releasing free key \(key)") }
        let counted = cause ?? (kind == .expired ? .expired : kind == .forceReleased ? .force : .release)
        self.statistics.releases[counted.rawValue] += 1
        self.statistics.holdSeconds.record(Self.elapsed(from: lock.acquiredAt, to: now.wall))
        let removed = self.sessions[lock.sessionID]?.held.remove(key)
        precondition(removed != nil, "lock \(key) was not in its session's held keys")
        let revision = self.recordEvent(kind, about: lock, at: now, into: &effects)
        if kind == .expired || kind == .forceReleased, self.configuration.lockDelay > .zero {
            let end = now + self.configuration.lockDelay
            self.delays[key] = end
            self.delayDeadlines.insert(DeadlineEntry(deadline: end, id: key))
        }
        self.handOver(key, now: now, into: &effects)
        return revision
    }

    /// If `key` is free and not under a lock delay, grants it to the head of its queue.
    ///
    /// A delay whose end is at or before `now` counts as over even if ``expire(now:)`` has not processed it yet.
    mutating func handOver(_ key: LockKey, now: Instant, into effects: inout [Effect]) {
        guard self.locks[key] == nil else { return }
        if let end = self.delays[key] {
            guard end <= now else { return }
            self.delays[key] = nil  // its heap entry goes stale
        }
        guard let head = self.queues[key]?.first(isLive: { self.waiters[$0] != nil }) else { return }
        let waiter = self.removeWaiter(head)
        self.statistics.waitSeconds.record(Self.elapsed(from: waiter.since, to: now.wall))
        let lock = self.grant(key, to: waiter.session, now: now, into: &effects)
        effects.append(.grant(head, lock))
    }

    /// The end of the lock delay on `key` if one is still running at `now`.
    func activeDelay(on key: LockKey, now: Instant) -> Instant? {
        guard let end = self.delays[key], end > now else { return nil }
        return end
    }

    // MARK: - Waiters

    /// Queues a new waiter at the tail of its key's queue.
    mutating func enqueue(_ key: LockKey, session sessionID: SessionID, deadline: Instant, now: Instant) -> WaiterID {
        let id = self.nextWaiterID()
        self.waiters[id] = Waiter(id: id, key: key, session: sessionID, deadline: deadline, since: now.wall)
        self.queues[key, default: WaitQueue()].append(id)
        self.sessions[sessionID]!.waits[key] = id
        self.waitDeadlines.insert(DeadlineEntry(deadline: deadline, id: id))
        return id
    }

    /// Puts a new waiter in the place of `old` (same key, same session, same position and start time).
    mutating func supersede(_ old: WaiterID, deadline: Instant) -> WaiterID {
        guard var waiter = self.waiters.removeValue(forKey: old) else { preconditionFailure("superseding gone \(old)") }
        let id = self.nextWaiterID()
        waiter.id = id
        waiter.deadline = deadline
        self.waiters[id] = waiter
        self.queues[waiter.key]!.replace(old, with: id)
        self.sessions[waiter.session]!.waits[waiter.key] = id
        self.waitDeadlines.insert(DeadlineEntry(deadline: deadline, id: id))
        return id
    }

    /// Takes a live waiter out of every table. Its heap entry goes stale.
    /// - Returns: The removed waiter.
    @discardableResult
    mutating func removeWaiter(_ id: WaiterID) -> Waiter {
        guard let waiter = self.waiters.removeValue(forKey: id) else { preconditionFailure("removing gone \(id)") }
        let removed = self.sessions[waiter.session]?.waits.removeValue(forKey: waiter.key)
        precondition(removed == id, "waiter \(id) was not its session's wait on \(waiter.key)")
        guard var queue = self.queues.removeValue(forKey: waiter.key) else {
            preconditionFailure("waiter \(id) has no queue on \(waiter.key)")
        }
        let waiters = self.waiters
        queue.removed(isLive: { waiters[$0] != nil })
        if !queue.isEmpty { self.queues[waiter.key] = queue }
        return waiter
    }

    private mutating func nextWaiterID() -> WaiterID {
        self.lastWaiterID += 1
        return WaiterID(rawValue: self.lastWaiterID)
    }

    // MARK: - Sessions

    /// Sets the deadline of the live session at `index` of ``sessions`` to `now + ttl`, keeping its heap entry no
    /// later than the deadline.
    /// - Returns: The new deadline.
    @discardableResult
    mutating func refresh(at index: Dictionary<SessionID, SessionState>.Index, now: Instant) -> Instant {
        // In place: no second hash lookup, and no copy of the session's record, locks and waits (the keepalive hot
        // path).
        let deadline = now + self.sessions.values[index].record.ttl
        self.sessions.values[index].deadline = deadline
        if deadline < self.sessions.values[index].heapDeadline {
            // Only if `now` went backwards; the old entry goes stale.
            self.sessions.values[index].heapDeadline = deadline
            self.sessionDeadlines.insert(DeadlineEntry(deadline: deadline, id: self.sessions.keys[index]))
        }
        return deadline
    }

    /// Removes a session: fails its waits with `failure`, releases its locks in key order with `kind` events
    /// (each followed by its hand-over), then persists the removal.
    /// - Returns: How many locks it held.
    @discardableResult
    mutating func endSession(
        _ id: SessionID,
        releasingAs kind: Event.Kind,
        failingWaitsWith failure: WaitFailure,
        now: Instant,
        into effects: inout [Effect]
    ) -> Int {
        guard let session = self.sessions[id] else { preconditionFailure("ending gone session \(id)") }
        // Waits first, so that no hand-over below can grant to the dying session.
        var failures: [Effect] = []
        for waiterID in session.waits.values.sorted() {
            self.removeWaiter(waiterID)
            failures.append(.fail(waiterID, failure))
        }
        let held = session.held.sorted()
        for key in held {
            self.releaseLock(key, as: kind, cause: kind == .released ? .sessionClosed : nil, now: now, into: &effects)
        }
        effects.append(contentsOf: failures)
        precondition(self.sessions[id]!.held.isEmpty && self.sessions[id]!.waits.isEmpty)
        self.sessions[id] = nil  // its heap entry goes stale
        effects.append(.persist(.removeSession(id)))
        return held.count
    }

    // MARK: - Heap hygiene

    /// Rebuilds a heap once its stale entries outnumber the live ones, so that closed sessions and waits that
    /// ended early (granted, cancelled, superseded) cannot grow memory without bound. Amortised O(1) per removal;
    /// every public transition that can leave stale entries calls it last.
    mutating func compactHeapsIfNeeded() {
        if self.sessionDeadlines.count > 2 * self.sessions.count + 64 {
            for id in self.sessions.keys { self.sessions[id]!.heapDeadline = self.sessions[id]!.deadline }
            self.sessionDeadlines = Heap(
                self.sessions.values.map { DeadlineEntry(deadline: $0.deadline, id: $0.id) }
            )
        }
        if self.waitDeadlines.count > 2 * self.waiters.count + 64 {
            self.waitDeadlines = Heap(self.waiters.values.map { DeadlineEntry(deadline: $0.deadline, id: $0.id) })
        }
        if self.delayDeadlines.count > 2 * self.delays.count + 64 {
            self.delayDeadlines = Heap(self.delays.map { DeadlineEntry(deadline: $0.value, id: $0.key) })
        }
    }
}
