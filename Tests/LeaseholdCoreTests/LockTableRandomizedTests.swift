import LeaseholdCore
import LeaseholdTestUtilities
import Testing

@Suite("LockTable randomized operation sequences")
struct LockTableRandomizedTests {
    @Test("invariants hold over seeded random operation sequences", arguments: 0..<20)
    func randomized(seed: Int) {
        var simulation = Simulation(seed: UInt64(seed))
        do {
            for _ in 0..<2_000 { try simulation.step() }
        } catch {
            return  // the failing check recorded the issue with the seed, step and recent operations
        }
        // Each seed must actually exercise the interesting paths.
        let coverage = simulation.coverage
        #expect(coverage.handOvers > 0, "seed \(seed): no hand-over to a waiter: \(coverage)")
        #expect(coverage.timeouts > 0, "seed \(seed): no wait timed out: \(coverage)")
        #expect(coverage.expiredLocks > 0, "seed \(seed): no lock expired: \(coverage)")
        #expect(coverage.restores > 0, "seed \(seed): no restore: \(coverage)")
    }
}

/// Drives a ``LockTable`` with random operations and checks every effect and every invariant against a simple
/// model: the persisted mutations applied to a model database, plus what the test knows about sessions and waits.
private struct Simulation {
    struct SimulationFailure: Error {}

    struct ModelSession {
        var ttl: Duration
        var deadline: Instant
        var secret: [UInt8]
    }

    struct ModelWaiter {
        var key: String
        var session: SessionID
        var deadline: Instant
    }

    enum WaitEnd: Hashable {
        case granted
        case failed(LockTable.WaitFailure)
        case cancelledByCaller, lostInRestart
    }

    struct Coverage: CustomStringConvertible {
        var grants = 0, handOvers = 0, timeouts = 0, expiredLocks = 0, forced = 0, superseded = 0, restores = 0
        var closedWaits = 0, expiredWaits = 0, delayedTryLocks = 0, limits = 0
        var description: String {
            "grants \(grants), hand-overs \(handOvers), timeouts \(timeouts), expired locks \(expiredLocks), "
                + "forced \(forced), superseded \(superseded), restores \(restores), closed waits \(closedWaits), "
                + "expired waits \(expiredWaits), delayed try-locks \(delayedTryLocks), limits \(limits)"
        }
    }

    static let keys = ["a", "a/1", "a/2", "b", "b/1", "c"]

    let seed: UInt64
    var rng: SplitMix64
    let configuration: LockTable.Configuration
    var table: LockTable
    var now = Instant.zero
    var stepNumber = 0
    var log: [String] = []
    var coverage = Coverage()

    var database = ModelDatabase()
    var sessions: [SessionID: ModelSession] = [:]
    var holders: [String: LockInfo] = [:]
    var lastRevision: UInt64 = 0
    var highestToken: UInt64 = 0
    var waiters: [WaiterID: ModelWaiter] = [:]
    var ended: [WaiterID: WaitEnd] = [:]
    var queueOrder: [String: [WaiterID]] = [:]
    var delayEnds: [String: Instant] = [:]
    /// Waiter ids restart at 1 in a restored table: ids from before a restore are kept here.
    var restoredAway = 0

    init(seed: UInt64) {
        self.seed = seed
        self.rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ 1)
        self.configuration = LockTable.Configuration(
            maxSessions: 10,
            maxWaitersPerKey: 3,
            lockDelay: seed % 2 == 0 ? .zero : .milliseconds(700)
        )
        self.table = LockTable(configuration: self.configuration)
    }

    // MARK: - Checks

    func check(
        _ condition: Bool,
        _ message: @autoclosure () -> String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        guard !condition else { return }
        let recent = self.log.suffix(12).joined(separator: "\n  ")
        Issue.record(
            Comment(rawValue: "seed \(self.seed) step \(self.stepNumber) at \(self.now): \(message())\n  \(recent)"),
            sourceLocation: sourceLocation
        )
        throw SimulationFailure()
    }

    // MARK: - Steps

    mutating func step() throws {
        self.stepNumber += 1
        let live = self.sessions.keys.sorted()
        let roll = self.rng.below(100)
        switch roll {
        case 0..<10: try self.open()
        case 10..<18: try self.keepAlive(live)
        case 18..<22: try self.keepAliveAll(live)
        case 22..<25: try self.resume(live)
        case 25..<28: try self.close(live)
        case 28..<52: try self.acquire(live)
        case 52..<64: try self.release(live)
        case 64..<67: try self.forceRelease()
        case 67..<70: try self.cancelWait()
        case 70..<88: try self.tick(expire: true)
        case 88..<94: try self.tick(expire: false)
        case 94..<97: try self.probe()
        case 97..<98: try self.restore()
        default: try self.tick(expire: true)
        }
        try self.checkInvariants()
    }

    mutating func open() throws {
        let ttl = self.rng.pick([Duration.zero, .seconds(1), .seconds(2), .seconds(3), .seconds(5), .milliseconds(500)])
        let secret = (0..<4).map { _ in UInt8(truncatingIfNeeded: self.rng.next()) }
        let (outcome, effects) = self.table.openSession(
            ttl: ttl,
            secretHash: secret,
            owner: "o\(self.rng.below(3))",
            name: "s",
            now: self.now
        )
        self.log.append("open ttl \(ttl) -> \(outcome)")
        switch outcome {
        case .opened(let info):
            let expectedTTL = ttl == .zero ? self.configuration.defaultTTL : ttl
            try self.check(info.ttl == expectedTTL && info.expiresIn == expectedTTL, "opened with \(info)")
            try self.check(info.id.rawValue == self.database.lastSessionID.rawValue + 1, "session id \(info.id)")
            try self.check(effects.count == 1, "open effects \(effects)")
            try self.apply(effects)
            self.sessions[info.id] = ModelSession(ttl: expectedTTL, deadline: self.now + expectedTTL, secret: secret)
        case .invalidTTL:
            try self.check(ttl < self.configuration.minTTL && ttl != .zero && effects.isEmpty, "invalid ttl \(ttl)")
        case .tooManySessions:
            self.coverage.limits += 1
            try self.check(self.sessions.count >= self.configuration.maxSessions && effects.isEmpty, "session limit")
        }
    }

    mutating func randomSession(_ live: [SessionID]) -> SessionID {
        if live.isEmpty || self.rng.percent(5) { return SessionID(UInt64(self.rng.below(40))) }
        return self.rng.pick(live)
    }

    mutating func keepAlive(_ live: [SessionID]) throws {
        let id = self.randomSession(live)
        let outcome = self.table.keepAlive(id, now: self.now)
        self.log.append("keepAlive \(id) -> \(outcome)")
        guard let session = self.sessions[id] else { return try self.check(outcome == .notFound, "keepalive") }
        if session.deadline <= self.now { return try self.check(outcome == .expired, "keepalive past deadline") }
        try self.check(outcome == .alive(ttl: session.ttl, expiresIn: session.ttl), "keepalive alive")
        self.sessions[id]!.deadline = self.now + session.ttl
    }

    /// What well-behaved clients do: every live session sends a keepalive.
    mutating func keepAliveAll(_ live: [SessionID]) throws {
        self.log.append("keepAlive all")
        for id in live where self.sessions[id]!.deadline > self.now {
            let ttl = self.sessions[id]!.ttl
            try self.check(self.table.keepAlive(id, now: self.now) == .alive(ttl: ttl, expiresIn: ttl), "keepalive")
            self.sessions[id]!.deadline = self.now + ttl
        }
    }

    mutating func resume(_ live: [SessionID]) throws {
        let id = self.randomSession(live)
        let right = self.rng.percent(70)
        let secret = right ? self.sessions[id]?.secret ?? [] : [1, 2, 3]
        let outcome = self.table.resumeSession(id, secretHash: secret, now: self.now)
        self.log.append("resume \(id) right \(right) -> \(outcome)")
        guard let session = self.sessions[id] else { return try self.check(outcome == .notFound, "resume unknown") }
        if session.secret != secret { return try self.check(outcome == .wrongSecret, "resume wrong secret") }
        if session.deadline <= self.now { return try self.check(outcome == .expired, "resume past deadline") }
        guard case .resumed(let info) = outcome else { return try self.check(false, "resume failed") }
        let held = self.holders.values.filter { $0.sessionID == id }.sorted {
            Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8)
        }
        try self.check(info.locks == held && info.expiresIn == session.ttl, "resume info \(info)")
        self.sessions[id]!.deadline = self.now + session.ttl
    }

    mutating func close(_ live: [SessionID]) throws {
        let id = self.randomSession(live)
        let (outcome, effects) = self.table.closeSession(id, now: self.now)
        self.log.append("close \(id) -> \(outcome) \(effects)")
        guard let session = self.sessions[id], session.deadline > self.now else {
            return try self.check(outcome == .notFound && effects.isEmpty, "close of a dead session")
        }
        let held = self.holders.values.filter { $0.sessionID == id }.count
        try self.check(outcome == .closed(released: held), "close released count")
        try self.apply(effects)
        try self.check(effects.last == .persist(.removeSession(id)), "close ends with the removal")
        try self.check(
            effects.events.filter { $0.sessionID == id }.allSatisfy { $0.kind == .released },
            "close events"
        )
    }

    mutating func acquire(_ live: [SessionID]) throws {
        let id = self.randomSession(live)
        let key = self.rng.percent(2) ? self.rng.pick(["", "x\u{0}y"]) : self.rng.pick(Self.keys)
        let wait: Duration = self.rng.percent(40) ? .zero : .milliseconds(300 + self.rng.below(6_000))
        let holderBefore = self.holders[key]
        let queuedBefore = self.waiters.first { $0.value.key == key && $0.value.session == id }?.key
        let (outcome, effects) = self.table.acquire(key: key, session: id, wait: wait, now: self.now)
        self.log.append("acquire \(key) by \(id) wait \(wait) -> \(outcome) \(effects)")
        if key.isEmpty || key.utf8.contains(0) {
            guard case .invalidKey = outcome else { return try self.check(false, "invalid key accepted") }
            return try self.check(effects.isEmpty, "invalid key effects")
        }
        guard let session = self.sessions[id] else {
            return try self.check(outcome == .sessionNotFound && effects.isEmpty, "acquire by unknown session")
        }
        if session.deadline <= self.now {
            return try self.check(outcome == .sessionExpired && effects.isEmpty, "acquire by expired session")
        }
        if let holderBefore, holderBefore.sessionID == id {
            return try self.check(outcome == .granted(holderBefore) && effects.isEmpty, "idempotent acquire")
        }
        try self.apply(effects)
        switch outcome {
        case .granted(let lock):
            self.coverage.grants += 1
            try self.check(lock.sessionID == id && self.holders[key] == lock, "granted lock is the model's holder")
        case .enqueued(let waiter):
            try self.check(wait > .zero && self.holders[key]?.sessionID != id, "enqueued")
            try self.check(self.waiters[waiter] == nil && self.ended[waiter] == nil, "reused waiter id \(waiter)")
            self.waiters[waiter] = ModelWaiter(key: key, session: id, deadline: self.now + wait)
            if let old = queuedBefore {
                self.coverage.superseded += 1
                try self.check(self.ended[old] == .failed(.cancelled), "superseded wait \(old) not cancelled")
                guard let index = self.queueOrder[key]?.firstIndex(of: old) else {
                    return try self.check(false, "superseded \(old) is not in the model queue")
                }
                self.queueOrder[key]![index] = waiter
            } else {
                self.queueOrder[key, default: []].append(waiter)
            }
        case .held(let holder, let delayedUntil):
            try self.check(wait == .zero, "held answer to a waiting acquire")
            try self.check(holder == self.holders[key], "held by \(String(describing: holder))")
            if holder == nil {
                self.coverage.delayedTryLocks += 1
                try self.check(
                    delayedUntil != nil && delayedUntil == self.delayEnds[key] && delayedUntil! > self.now,
                    "held with no holder needs a running delay, model \(String(describing: self.delayEnds[key]))"
                )
            } else {
                try self.check(delayedUntil == nil, "a held key has no delay")
            }
        case .tooManyWaiters:
            self.coverage.limits += 1
            let queued = self.waiters.values.filter { $0.key == key }.count
            try self.check(queued >= self.configuration.maxWaitersPerKey && queuedBefore == nil, "waiter limit")
        case .invalidKey, .sessionNotFound, .sessionExpired:
            try self.check(false, "unexpected \(outcome)")
        }
    }

    mutating func release(_ live: [SessionID]) throws {
        var key = self.rng.pick(Self.keys)
        var id = self.randomSession(live)
        var token = UInt64(self.rng.below(Int(self.lastRevision) + 2))
        let held = self.holders.values.sorted { $0.fencingToken < $1.fencingToken }
        if !held.isEmpty, self.rng.percent(75) {
            let lock = self.rng.pick(held)
            key = lock.key
            id = lock.sessionID
            token = lock.fencingToken
            if self.rng.percent(15) { token += 1 }
        }
        let (outcome, effects) = self.table.release(key: key, session: id, fencingToken: token, now: self.now)
        self.log.append("release \(key) by \(id) token \(token) -> \(outcome) \(effects)")
        guard let session = self.sessions[id] else {
            return try self.check(outcome == .sessionNotFound && effects.isEmpty, "release by unknown session")
        }
        if session.deadline <= self.now {
            return try self.check(outcome == .sessionExpired && effects.isEmpty, "release by expired session")
        }
        guard let lock = self.holders[key], lock.sessionID == id, lock.fencingToken == token else {
            return try self.check(outcome == .notHolder && effects.isEmpty, "release by a non-holder")
        }
        try self.check(outcome == .released(revision: self.lastRevision + 1), "release revision")
        try self.check(effects.events.first?.kind == .released, "release event")
        try self.apply(effects)
    }

    mutating func forceRelease() throws {
        let key = self.rng.pick(Self.keys)
        let (outcome, effects) = self.table.forceRelease(key: key, now: self.now)
        self.log.append("forceRelease \(key) -> \(outcome) \(effects)")
        guard let lock = self.holders[key] else {
            return try self.check(outcome == .notFound && effects.isEmpty, "force-release of a free key")
        }
        self.coverage.forced += 1
        try self.check(outcome == .released(lock, revision: self.lastRevision + 1), "force-release outcome")
        try self.apply(effects)
        try self.check(self.sessions[lock.sessionID] != nil, "force-release ended the holder's session")
    }

    mutating func cancelWait() throws {
        let pending = self.waiters.keys.sorted()
        let waiter = pending.isEmpty || self.rng.percent(10) ? WaiterID(rawValue: 99_999) : self.rng.pick(pending)
        let effects = self.table.cancelWait(waiter)
        self.log.append("cancelWait \(waiter) -> \(effects)")
        try self.check(effects.isEmpty, "cancel effects")
        if self.waiters.removeValue(forKey: waiter) != nil { self.ended[waiter] = .cancelledByCaller }
    }

    mutating func tick(expire: Bool) throws {
        self.now = self.now + .milliseconds(self.rng.below(expire ? 700 : 300))
        guard expire else { return self.log.append("advance to \(self.now)") }
        try self.expire()
    }

    mutating func expire() throws {
        let effects = self.table.expire(now: self.now)
        self.log.append("expire \(self.now) -> \(effects)")
        try self.apply(effects)
        for (id, session) in self.sessions {
            try self.check(session.deadline > self.now, "session \(id) outlived expire")
        }
        for (id, waiter) in self.waiters {
            try self.check(waiter.deadline > self.now, "waiter \(id) outlived expire")
        }
        for lock in self.table.list(prefix: "") {
            let info = self.table.session(lock.sessionID, now: self.now)
            try self.check((info?.expiresIn ?? .zero) > .zero, "holder of \(lock.key) expired but kept the lock")
        }
        self.delayEnds = self.delayEnds.filter { $0.value > self.now }
        if let next = self.table.nextDeadline { try self.check(next > self.now, "nextDeadline \(next) not ahead") }
    }

    /// Moves to just before ``LockTable/nextDeadline``: nothing may happen there.
    mutating func probe() throws {
        guard let next = self.table.nextDeadline, next - self.now > .milliseconds(1) else { return }
        self.now = next + .milliseconds(-1)
        let effects = self.table.expire(now: self.now)
        self.log.append("probe \(self.now) -> \(effects)")
        try self.check(effects.isEmpty, "something happened before nextDeadline \(next): \(effects)")
    }

    mutating func restore() throws {
        self.coverage.restores += 1
        self.log.append("restore at \(self.now)")
        self.table = LockTable(restoring: self.database.state, configuration: self.configuration, now: self.now)
        for id in self.waiters.keys { self.ended[id] = .lostInRestart }
        self.restoredAway += self.waiters.count
        // Waiter ids start again at 1: forget the old ones so that new waits can reuse them.
        self.waiters = [:]
        self.ended = [:]
        self.queueOrder = [:]
        self.delayEnds = [:]
        try self.check(Set(self.sessions.keys) == Set(self.database.sessions.keys), "restored sessions")
        for id in self.sessions.keys { self.sessions[id]!.deadline = self.now + self.sessions[id]!.ttl }
    }

    // MARK: - Effects

    /// Checks each effect against the model, then applies it to the model and the model database.
    mutating func apply(_ effects: [LockTable.Effect]) throws {
        for effect in effects {
            switch effect {
            case .persist(.openSession(let record)):
                try self.check(record.id > self.database.lastSessionID, "session id \(record.id) not new")
            case .persist(.removeSession(let id)):
                try self.check(self.sessions.removeValue(forKey: id) != nil, "removed unknown session \(id)")
                try self.check(!self.holders.values.contains { $0.sessionID == id }, "removed \(id) still holds")
                try self.check(!self.waiters.values.contains { $0.session == id }, "removed \(id) still waits")
            case .persist(.event(let event)):
                try self.check(
                    event.revision == self.lastRevision + 1,
                    "event revision \(event.revision) after \(self.lastRevision)"
                )
                try self.check(event.at == self.now.wall, "event time")
                self.lastRevision = event.revision
                if event.kind == .acquired {
                    try self.check(self.holders[event.key] == nil, "second holder of \(event.key)")
                    try self.check(event.fencingToken == event.revision, "token is not the revision")
                    try self.check(event.fencingToken > self.highestToken, "token \(event.fencingToken) not increasing")
                    if let end = self.delayEnds[event.key] {
                        try self.check(end <= self.now, "granted \(event.key) during its lock delay until \(end)")
                        self.delayEnds[event.key] = nil
                    }
                    let session = self.sessions[event.sessionID]
                    try self.check(session != nil, "granted to unknown session \(event.sessionID)")
                    self.highestToken = event.fencingToken
                    self.holders[event.key] = LockInfo(
                        key: event.key,
                        sessionID: event.sessionID,
                        fencingToken: event.fencingToken,
                        owner: event.owner,
                        acquiredAt: event.at,
                        sessionTTL: session!.ttl
                    )
                } else {
                    let lock = self.holders.removeValue(forKey: event.key)
                    try self.check(
                        lock?.sessionID == event.sessionID && lock?.fencingToken == event.fencingToken
                            && lock?.owner == event.owner,
                        "\(event.kind) event for \(event.key) does not match holder \(String(describing: lock))"
                    )
                    if event.kind == .expired {
                        self.coverage.expiredLocks += 1
                        let deadline = self.sessions[event.sessionID]?.deadline
                        try self.check(deadline.map { $0 <= self.now } ?? false, "expired a live session's lock")
                    }
                    if event.kind != .released, self.configuration.lockDelay > .zero {
                        self.delayEnds[event.key] = self.now + self.configuration.lockDelay
                    }
                }
            case .grant(let id, let lock):
                self.coverage.handOvers += 1
                let waiter = try self.finish(id, as: .granted)
                try self.check(waiter.key == lock.key && waiter.session == lock.sessionID, "grant to the wrong waiter")
                try self.check(self.holders[lock.key] == lock, "grant \(lock) is not the persisted holder")
                let earlier = self.queueOrder[lock.key]!.prefix { $0 != id }.filter { self.waiters[$0] != nil }
                try self.check(earlier.isEmpty, "FIFO: \(id) granted before \(earlier)")
            case .fail(let id, let failure):
                let waiter = try self.finish(id, as: .failed(failure))
                switch failure {
                case .timedOut:
                    self.coverage.timeouts += 1
                    try self.check(waiter.deadline <= self.now, "timed out early")
                case .sessionExpired:
                    self.coverage.expiredWaits += 1
                    try self.check(self.sessions[waiter.session]!.deadline <= self.now, "live session's wait expired")
                case .sessionClosed:
                    self.coverage.closedWaits += 1
                case .cancelled:
                    break
                }
            }
            if case .persist(let mutation) = effect { self.database.apply(mutation) }
        }
    }

    /// Ends a pending wait exactly once.
    mutating func finish(_ id: WaiterID, as end: WaitEnd) throws -> ModelWaiter {
        guard let waiter = self.waiters.removeValue(forKey: id) else {
            try self.check(false, "\(id) ended as \(end) but was \(String(describing: self.ended[id])) / unknown")
            preconditionFailure()
        }
        self.ended[id] = end
        return waiter
    }

    // MARK: - Invariants

    func checkInvariants() throws {
        try self.check(
            self.table.revision == self.lastRevision,
            "revision \(self.table.revision) != \(self.lastRevision)"
        )
        let listed = self.table.list(prefix: "")
        try self.check(Dictionary(uniqueKeysWithValues: listed.map { ($0.key, $0) }) == self.holders, "holders differ")
        try self.check(
            listed.map(\.key) == listed.map(\.key).sorted { Array($0.utf8).lexicographicallyPrecedes($1.utf8) },
            "list order"
        )
        for lock in listed {
            try self.check(self.sessions[lock.sessionID] != nil, "holder \(lock.sessionID) of \(lock.key) is gone")
            let info = self.table.session(lock.sessionID, now: self.now)
            try self.check(info?.locks.contains(lock) ?? false, "session info misses \(lock.key)")
        }
        try self.check(self.table.sessionCount == self.sessions.count, "session count")
        try self.check(self.database.sessions.count == self.sessions.count, "persisted session count")
        try self.check(self.table.waiterCount == self.waiters.count, "waiter count")
        for key in Self.keys {
            let queue = self.table.describe(key: key).queue.map(\.sessionID)
            let expected = (self.queueOrder[key] ?? []).compactMap { self.waiters[$0]?.session }
            try self.check(queue == expected, "queue of \(key) is \(queue), model \(expected)")
            if self.holders[key] == nil, !queue.isEmpty {
                try self.check(self.delayEnds[key] != nil, "free key \(key) without delay has waiters")
            }
        }
        // nextDeadline is never later than anything still pending.
        let pending =
            self.sessions.values.map(\.deadline) + self.waiters.values.map(\.deadline)
            + self.delayEnds.values.filter { $0 > self.now }
        if let earliest = pending.min() {
            let next = self.table.nextDeadline
            try self.check(
                next != nil && next! <= earliest,
                "nextDeadline \(String(describing: next)) after \(earliest)"
            )
        }
        // Restoring from what was persisted gives the same holders and revision.
        let restored = LockTable(restoring: self.database.state, configuration: self.configuration, now: self.now)
        try self.check(restored.list(prefix: "") == listed, "restored holders differ")
        try self.check(restored.revision == self.table.revision, "restored revision differs")
        try self.check(restored.sessionCount == self.table.sessionCount, "restored session count differs")
    }
}
