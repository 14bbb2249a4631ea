import HeapModule

// MARK: - Time

extension LockTable {
    /// Processes everything due at or before `now`, in time order: lock delays that end (their queue heads are
    /// granted), sessions that expire, and waits that time out.
    ///
    /// A session whose deadline is at or before `now` expires: each lock it holds ends with an `expired` event (key
    /// order) and starts the lock delay or is handed over, its waits fail with ``WaitFailure/sessionExpired``, and
    /// its removal is persisted. A waiter whose deadline is at or before `now` fails with
    /// ``WaitFailure/timedOut``. Things due at the same instant go in the order lock delays, sessions, waits, and
    /// by id within each; the result is deterministic.
    ///
    /// ```swift
    /// // the server's timer
    /// while let deadline = table.nextDeadline { await clock.sleep(until: deadline); run(table.expire(now: now())) }
    /// ```
    /// - Parameter now: The current time.
    /// - Returns: The effects, in order.
    public mutating func expire(now: Instant) -> [Effect] {
        var effects: [Effect] = []
        while let due = self.nextDue(now: now) {
            switch due {
            case .delay:
                let entry = self.delayDeadlines.popMin()!
                guard self.delays[entry.id] == entry.deadline else { continue }  // stale
                self.handOver(entry.id, now: now, into: &effects)
            case .session:
                let entry = self.sessionDeadlines.popMin()!
                guard let session = self.sessions[entry.id], session.heapDeadline == entry.deadline else { continue }
                if session.deadline > entry.deadline {
                    // Kept alive since the entry was pushed: one entry again, at the real deadline.
                    self.sessions[entry.id]!.heapDeadline = session.deadline
                    self.sessionDeadlines.insert(DeadlineEntry(deadline: session.deadline, id: entry.id))
                    continue
                }
                self.statistics.sessionExpiries += 1
                self.endSession(
                    entry.id,
                    releasingAs: .expired,
                    failingWaitsWith: .sessionExpired,
                    now: now,
                    into: &effects
                )
            case .wait:
                let entry = self.waitDeadlines.popMin()!
                guard let waiter = self.waiters[entry.id], waiter.deadline == entry.deadline else { continue }
                self.removeWaiter(entry.id)
                self.statistics.acquireTimeouts += 1
                effects.append(.fail(entry.id, .timedOut))
            }
        }
        self.compactHeapsIfNeeded()
        return effects
    }

    /// The earliest pending session expiry, wait timeout or lock-delay end, or nil if nothing is pending.
    ///
    /// O(1): the heaps keep stale entries (a session kept alive since, a wait that ended), so this may be earlier
    /// than the next real event, which costs the caller a wake-up with nothing to do, but it is never later.
    /// After ``expire(now:)`` it is later than `now`.
    public var nextDeadline: Instant? {
        func earlier(_ lhs: Instant?, _ rhs: Instant?) -> Instant? {
            guard let lhs, let rhs else { return lhs ?? rhs }
            return min(lhs, rhs)
        }
        return earlier(
            earlier(self.delayDeadlines.min?.deadline, self.sessionDeadlines.min?.deadline),
            self.waitDeadlines.min?.deadline
        )
    }

    /// The three kinds of deadline, in the order they go when due at the same instant.
    private enum Due {
        case delay, session, wait
    }

    /// Which heap holds the earliest entry due at `now`; ties go in ``Due``'s order.
    private func nextDue(now: Instant) -> Due? {
        var best: (deadline: Instant, due: Due)?
        func consider(_ deadline: Instant?, _ due: Due) {
            guard let deadline, deadline <= now else { return }
            if let current = best, current.deadline <= deadline { return }  // earlier, or as early and first
            best = (deadline, due)
        }
        consider(self.delayDeadlines.min?.deadline, .delay)
        consider(self.sessionDeadlines.min?.deadline, .session)
        consider(self.waitDeadlines.min?.deadline, .wait)
        return best?.due
    }
}
