import LeaseholdCore

/// The instant `milliseconds` after the test origin (monotonic and wall clock move together).
func at(_ milliseconds: Int64) -> Instant {
    Instant.zero + .milliseconds(milliseconds)
}

/// A made-up secret hash for a session.
func secret(_ seed: UInt8) -> [UInt8] {
    [UInt8](repeating: seed, count: 32)
}

extension LockTable {
    /// Opens a session that must open, and returns its id.
    mutating func open(
        ttl: Duration = .seconds(10),
        owner: String = "alice",
        secretHash: [UInt8] = secret(1),
        now: Instant = at(0)
    ) -> SessionID {
        let (outcome, _) = self.openSession(ttl: ttl, secretHash: secretHash, owner: owner, name: "test", now: now)
        guard case .opened(let info) = outcome else { preconditionFailure("could not open a session: \(outcome)") }
        return info.id
    }
}

extension LockTable.AcquireOutcome {
    /// The lock, if this is a grant.
    var lock: LockInfo? {
        if case .granted(let lock) = self { return lock }
        return nil
    }

    /// The waiter, if the call was queued.
    var waiter: WaiterID? {
        if case .enqueued(let waiter) = self { return waiter }
        return nil
    }
}

extension Array where Element == LockTable.Effect {
    /// The persisted events, in order.
    var events: [Event] {
        self.compactMap {
            if case .persist(.event(let event)) = $0 { return event }
            return nil
        }
    }

    /// The grants to queued waiters, in order.
    var grants: [WaiterID] {
        self.compactMap {
            if case .grant(let waiter, _) = $0 { return waiter }
            return nil
        }
    }

    /// The failed waits, in order.
    var failures: [LockTable.Effect] {
        self.filter {
            if case .fail = $0 { return true }
            return false
        }
    }
}

/// The store as the tests see it: the `.persist` mutations applied to a few dictionaries, as the SQLite store
/// applies them to its tables.
struct ModelDatabase {
    var revision: UInt64 = 0
    var lastSessionID = SessionID(0)
    var sessions: [SessionID: SessionRecord] = [:]
    var locks: [String: LockInfo] = [:]

    mutating func apply(_ effects: [LockTable.Effect]) {
        for case .persist(let mutation) in effects { self.apply(mutation) }
    }

    mutating func apply(_ mutation: Mutation) {
        switch mutation {
        case .openSession(let record):
            self.sessions[record.id] = record
            self.lastSessionID = max(self.lastSessionID, record.id)
        case .removeSession(let id):
            self.sessions[id] = nil
        case .event(let event):
            self.revision = max(self.revision, event.revision)
            if event.kind == .acquired {
                self.locks[event.key] = LockInfo(
                    key: event.key,
                    sessionID: event.sessionID,
                    fencingToken: event.fencingToken,
                    owner: event.owner,
                    acquiredAt: event.at,
                    sessionTTL: self.sessions[event.sessionID]?.ttl ?? .zero
                )
            } else {
                self.locks[event.key] = nil
            }
        }
    }

    /// What the store's `load()` would return.
    var state: PersistedState {
        PersistedState(
            revision: self.revision,
            lastSessionID: self.lastSessionID,
            sessions: self.sessions.values.sorted { $0.id < $1.id },
            locks: self.locks.values.sorted { $0.fencingToken < $1.fencingToken }
        )
    }
}
