import LeaseholdCore

/// When a session sends its keepalives: every TTL/3, at an instant rounded down to a grid of ticks shared by the
/// whole process.
///
/// Sessions open at scattered times, so without the grid each one wakes at its own phase, and a process with many
/// sessions sends a steady trickle of single keepalives: one `write` each here, one wake-up, `read` and `write` each
/// on the server. On the grid, every session of the process that is due within the same tick goes out at the same
/// instant, and the connection's write coalescing turns them into one write (etcd's client does the same with one
/// loop that sends the keepalives of all its leases). Sending up to one tick early costs nothing: the server's
/// deadline is set by when a keepalive is sent, and the tick is at most 1/64 of the interval.
///
/// ```swift
/// let schedule = KeepAliveSchedule(ttl: .seconds(10))  // interval 3.33 s, tick 50 ms
/// var next = schedule.next(after: .now)
/// ```
public struct KeepAliveSchedule: Hashable, Sendable {
    /// The time between keepalives: TTL/3, so that two can fail before the session is in danger.
    public let interval: Duration
    /// The grid: 1/64 of the interval in whole milliseconds, at least 1 ms and at most 50 ms.
    public let tick: Duration

    /// The grid's origin, the same for every session of the process.
    private static let origin = ContinuousClock.now

    /// Creates the schedule of sessions with this TTL.
    /// - Parameter ttl: The session's TTL.
    public init(ttl: Duration) {
        self.interval = ttl / 3
        let milliseconds = self.interval.wholeNanoseconds / 64 / 1_000_000
        self.tick = .milliseconds(min(max(milliseconds, 1), 50))
    }

    /// When to send the keepalive after one sent at `sent`: one interval later, rounded down to the grid.
    /// - Parameter sent: When the previous keepalive was sent (or the session opened).
    /// - Returns: An instant in `(sent + interval - tick, sent + interval]`.
    public func next(after sent: ContinuousClock.Instant) -> ContinuousClock.Instant {
        Self.origin + self.alignedDown(sent + self.interval - Self.origin)
    }

    /// `offset` rounded down to a whole number of ticks: for callers that count time from their own origin (a
    /// load generator that uses a raw monotonic clock and shares one origin among all its sessions).
    /// - Parameter offset: Time since a fixed origin.
    /// - Returns: The largest multiple of ``tick`` not above `offset`.
    public func alignedDown(_ offset: Duration) -> Duration {
        let nanoseconds = offset.wholeNanoseconds
        let tick = self.tick.wholeNanoseconds
        let ticks = nanoseconds >= 0 ? nanoseconds / tick : (nanoseconds - tick + 1) / tick
        return .nanoseconds(ticks * tick)
    }
}
