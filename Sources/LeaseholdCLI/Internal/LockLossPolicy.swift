/// When `leasehold lock` stops trusting its lock, and how long it gives its command to stop.
///
/// The server extends a session by one TTL from when it *receives* a keepalive, so it cannot expire the session
/// (and grant the lock to another session) before `send time of the last successful keepalive + TTL`: that is
/// ``LeaseholdClient/Session/confirmedUntil``. The command must be dead before that instant. Once
/// `now ≥ confirmedUntil − margin`, `leasehold lock` sends SIGTERM, waits at most ``grace``, then sends SIGKILL, so
/// the command is gone by
///
///     confirmedUntil − margin + pollInterval (noticing) + grace + (SIGKILL delivery)
///     = confirmedUntil − slack − ttl/100 + (SIGKILL delivery)
///
/// with ``slack`` (200 ms) left for scheduling delays and for SIGKILL to take effect, and ttl/100 for the two
/// machines' monotonic clocks running at different rates (real drift is parts per million). The margin must also
/// stay well under 2·TTL/3, the time a keepalive sent every TTL/3 has to succeed before the next one is due, or a
/// healthy lock would be given up: at the smallest TTL (1 s) the margin is 360 ms of the 667 ms.
///
/// | TTL   | grace | margin  | stops when the last confirmed keepalive is older than |
/// |-------|-------|---------|--------|
/// | 1 s   | 100 ms| 360 ms  | 640 ms |
/// | 3 s   | 300 ms| 580 ms  | 2.42 s |
/// | 10 s  | 1 s   | 1.35 s  | 8.65 s |
/// | 300 s | 2 s   | 5.25 s  | 294.75 s |
///
/// A process stuck in uninterruptible sleep (a dead NFS server) cannot be killed by anyone in time; fencing tokens
/// exist for that case.
struct LockLossPolicy: Sendable {
    /// How often `leasehold lock` checks the child and the lock.
    static let pollInterval = Duration.milliseconds(50)
    /// Time left for scheduling and for SIGKILL to take effect.
    static let slack = Duration.milliseconds(200)

    /// The session's TTL.
    let ttl: Duration

    /// Between SIGTERM and SIGKILL: a tenth of the TTL, from 100 ms to 2 s.
    var grace: Duration { min(max(self.ttl / 10, .milliseconds(100)), .seconds(2)) }

    /// How long before ``LeaseholdClient/Session/confirmedUntil`` the command is told to stop.
    var margin: Duration { self.grace + Self.pollInterval + Self.slack + self.ttl / 100 }

    /// Whether the command must be told to stop now: the lock is no longer certain for long enough to stop it.
    /// - Parameters:
    ///   - now: The current instant.
    ///   - confirmedUntil: The session's ``LeaseholdClient/Session/confirmedUntil``.
    func mustStop<C: InstantProtocol>(now: C, confirmedUntil: C) -> Bool where C.Duration == Duration {
        now >= confirmedUntil.advanced(by: .zero - self.margin)
    }
}
