import LeaseholdLinearizability
import LeaseholdTestUtilities
import Testing

/// Histories recorded from a simulated correct server must all pass, lost answers included: a checker that
/// rejects correct histories would make the crash tests fail at random. And a planted bug in such a history, a
/// grant handed out while the key is held, must be caught.
@Suite("Linearizability checker: histories of a simulated correct lock server")
struct SimulatedHistoryTests {
    @Test("every history of a correct server is linearizable, and the tokens check out", arguments: 0..<40)
    func correctServer(seed: Int) {
        var simulation = SimulatedServer(seed: UInt64(seed))
        let histories = simulation.run(steps: 300)
        let checker = LinearizabilityChecker()
        for (key, history) in histories {
            let check = checker.check(history)
            #expect(check.verdict == .linearizable, "seed \(seed), \(key): \(check)")
        }
        let violations = TokenOrderCheck.violations(in: histories)
        #expect(violations.isEmpty, "seed \(seed): \(violations)")
        #expect(simulation.lost > 0 && simulation.granted > 0 && simulation.refused > 0, "seed \(seed) is too tame")
    }

    @Test("a grant planted while the key is held is caught", arguments: 0..<20)
    func plantedDoubleGrant(seed: Int) throws {
        var simulation = SimulatedServer(seed: UInt64(seed))
        simulation.plantDoubleGrant = true
        let histories = simulation.run(steps: 300)
        let planted = try #require(simulation.planted, "seed \(seed): no chance to plant")
        let check = LinearizabilityChecker().check(histories[planted]!)
        #expect(check.verdict == .notLinearizable, "seed \(seed): \(check)")
    }
}

/// A correct server, one operation at a time at times 10, 20, 30… ms, each observed by its client over an interval
/// around that moment, so that neighbours overlap. Other keys move the shared counter now and then.
private struct SimulatedServer {
    var random: SplitMix64
    var revision: UInt64 = 0
    var holders: [String: LockHolder] = [:]
    var sessions: [UInt64] = [1, 2, 3, 4]
    var nextSession: UInt64 = 5
    var histories: [String: [LockOperation]] = ["a": [], "b": []]
    var lost = 0
    var granted = 0
    var refused = 0
    /// Grant the first try-lock of a held key anyway, once.
    var plantDoubleGrant = false
    var planted: String?
    /// When an operation on the key was last lost: a plant needs none for a while, or it may not be visible (the
    /// holder's lost release may have taken effect, for all the checker can tell).
    var lastLost: [String: Int] = [:]
    /// Whether the holder's grant was answered (not lost): else the plant may just as well be a first grant.
    var holderSeen: [String: Bool] = [:]
    /// When the plant was made: for a while no session closes, since a close overlapping the planted grant could
    /// have freed the key before it, for all the checker can tell.
    var plantedAt: Int?
    var now = 0

    init(seed: UInt64) {
        self.random = SplitMix64(seed: seed)
    }

    mutating func run(steps: Int) -> [String: [LockOperation]] {
        for step in 1...steps {
            let now = step * 10
            self.now = now
            if self.random.percent(10) { self.revision += UInt64(self.random.below(3)) }  // other keys
            let key = self.random.pick(["a", "b"])
            let client = self.random.below(self.sessions.count)
            let session = self.sessions[client]
            let isLost = self.random.percent(8)
            let takesEffect = !isLost || self.random.percent(50)
            let (call, result) = self.operation(
                key: key,
                session: session,
                client: client,
                apply: takesEffect,
                lost: isLost
            )
            let invoked = Duration.milliseconds(now - self.random.below(25))
            let outcome: LockOperation.Outcome
            if isLost {
                self.lastLost[key] = now
                self.lost += 1
                outcome = .lost(settledBy: .milliseconds(now + self.random.below(30)))
            } else {
                outcome = .answered(result, at: .milliseconds(now + self.random.below(25)))
            }
            let operation = LockOperation(client: client, call: call, invoked: invoked, outcome: outcome)
            if case .closeSession = call {
                for key in self.histories.keys { self.histories[key]!.append(operation) }  // a close acts on each
            } else {
                self.histories[key]!.append(operation)
            }
        }
        return self.histories
    }

    /// Picks a call, and answers it as a correct server would (changing the state only when `apply`).
    private mutating func operation(
        key: String,
        session: UInt64,
        client: Int,
        apply: Bool,
        lost: Bool
    )
        -> (LockOperation.Call, LockOperation.Result)
    {
        let holder = self.holders[key]
        switch self.random.below(100) {
        case 0..<40:
            if let holder, holder.sessionID == session {
                return (.acquire(sessionID: session), .granted(fencingToken: holder.fencingToken))
            }
            if let holder {
                if self.plantDoubleGrant, self.planted == nil, !lost, self.holderSeen[key] == true,
                    self.now - (self.lastLost[key] ?? -1_000) > 200
                {
                    self.planted = key
                    self.plantedAt = self.now
                    self.revision += 1
                    self.holders[key] = LockHolder(sessionID: session, fencingToken: self.revision)
                    return (.acquire(sessionID: session), .granted(fencingToken: self.revision))
                }
                self.refused += 1
                return (.acquire(sessionID: session), self.random.percent(50) ? .lockHeld(holder) : .waitExpired)
            }
            if apply {
                self.revision += 1
                self.holders[key] = LockHolder(sessionID: session, fencingToken: self.revision)
                self.holderSeen[key] = !lost
            }
            self.granted += 1
            return (.acquire(sessionID: session), .granted(fencingToken: self.revision))
        case 40..<70:
            // Right token when it holds the key, else some token: the holder's, or a made-up one.
            let token = holder?.sessionID == session ? holder!.fencingToken : (holder?.fencingToken ?? 1)
            let call = LockOperation.Call.release(sessionID: session, fencingToken: token)
            guard holder == LockHolder(sessionID: session, fencingToken: token) else { return (call, .notLockHolder) }
            let revision = self.revision + 1
            if apply {
                self.revision = revision
                self.holders[key] = nil
            }
            return (call, .released(revision: revision))
        case 70..<85:
            return (.describe, .described(holder, revision: self.revision))
        case 85..<93:
            let token = holder?.sessionID == session ? holder?.fencingToken : nil
            return (.sessionLocks(sessionID: session), .sessionHolds(fencingToken: token))
        case _ where self.plantedAt.map { self.now - $0 < 100 } ?? false:
            return (.describe, .described(holder, revision: self.revision))  // no close just after a plant
        default:
            // Close, and carry on with a new session (the checker never sees the old one again).
            if apply {
                for (key, holder) in self.holders.sorted(by: { $0.key < $1.key }) where holder.sessionID == session {
                    self.revision += 1
                    self.holders[key] = nil
                }
                self.sessions[client] = self.nextSession
                self.nextSession += 1
            }
            return (.closeSession(sessionID: session), .closed)
        }
    }
}
