import Testing

@testable import LeaseholdCLI

/// `leasehold lock` must have killed its command before the server could give the lock to anyone else, and must
/// never give up a lock whose keepalives succeed on schedule.
@Suite("Lock-loss policy of leasehold lock")
struct LockLossPolicyTests {
    /// TTLs from the smallest the server allows to the largest, in 10 ms steps at the low end.
    static let ttls: [Duration] =
        stride(from: 1_000, through: 3_000, by: 10).map { .milliseconds($0) } + (4...300).map { .seconds($0) }

    @Test("grace and margin are those of the table in LockLossPolicy's documentation")
    func documentedTable() {
        let rows: [(ttl: Duration, grace: Duration, margin: Duration)] = [
            (.seconds(1), .milliseconds(100), .milliseconds(360)),
            (.seconds(3), .milliseconds(300), .milliseconds(580)),
            (.seconds(10), .seconds(1), .milliseconds(1_350)),
            (.seconds(300), .seconds(2), .milliseconds(5_250)),
        ]
        for row in rows {
            let policy = LockLossPolicy(ttl: row.ttl)
            #expect(policy.grace == row.grace, "TTL \(row.ttl)")
            #expect(policy.margin == row.margin, "TTL \(row.ttl)")
        }
    }

    @Test("the command is dead before confirmedUntil, with the slack and the clock-rate allowance left over")
    func deadBeforeTheServerCanRegrant() {
        for ttl in Self.ttls {
            let policy = LockLossPolicy(ttl: ttl)
            // Noticed within one poll of the stop instant, then SIGTERM, the grace, and SIGKILL.
            let deadAtLatest = policy.margin - LockLossPolicy.pollInterval - policy.grace
            #expect(deadAtLatest >= LockLossPolicy.slack + ttl / 100, "TTL \(ttl): only \(deadAtLatest) left")
        }
    }

    @Test("keepalives that succeed every TTL/3 never trip it")
    func healthyLockIsKept() {
        for ttl in Self.ttls {
            let policy = LockLossPolicy(ttl: ttl)
            // Just before the next keepalive is due, the last confirmed one is TTL/3 old: 2·TTL/3 remain.
            let t0 = ContinuousClock.now
            let confirmedUntil = t0 + ttl
            #expect(!policy.mustStop(now: t0 + ttl / 3, confirmedUntil: confirmedUntil), "TTL \(ttl)")
            // The margin stays under the 2·TTL/3 a keepalive has to succeed before the next one is due.
            #expect(policy.margin < ttl * 2 / 3, "TTL \(ttl)")
        }
    }

    @Test("it says stop exactly from confirmedUntil − margin on")
    func stopInstant() {
        let policy = LockLossPolicy(ttl: .seconds(10))
        let confirmedUntil = ContinuousClock.now + .seconds(10)
        let stopAt = confirmedUntil - policy.margin
        #expect(!policy.mustStop(now: stopAt - .nanoseconds(1), confirmedUntil: confirmedUntil))
        #expect(policy.mustStop(now: stopAt, confirmedUntil: confirmedUntil))
        #expect(policy.mustStop(now: confirmedUntil, confirmedUntil: confirmedUntil))
    }
}
