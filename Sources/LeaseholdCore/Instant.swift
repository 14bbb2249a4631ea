/// A point in time as the lock table sees it.
///
/// Deadlines (TTLs, waits, lock delays) compare ``monotonic`` only, so wall-clock jumps change nothing
/// (docs/protocol.md, "What the server guarantees"). ``wall`` rides along for the Unix times that clients see (`acquired_at_ms`, `at_ms`).
/// Core never reads a clock: the server passes `now` in, and tests build instants by hand.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Time since an arbitrary origin on a monotonic clock.
    public var monotonic: Duration
    /// Wall-clock time at the same moment, for display and for the wire.
    public var wall: WallTime

    /// Creates an instant.
    /// - Parameters:
    ///   - monotonic: Time since the clock's origin.
    ///   - wall: The wall-clock time at that moment.
    public init(monotonic: Duration, wall: WallTime) {
        self.monotonic = monotonic
        self.wall = wall
    }

    /// The origin of a test clock: monotonic zero at the Unix epoch.
    public static let zero = Instant(monotonic: .zero, wall: WallTime(millisecondsSince1970: 0))

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.monotonic < rhs.monotonic }
    public static func == (lhs: Instant, rhs: Instant) -> Bool { lhs.monotonic == rhs.monotonic }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.monotonic) }

    /// Moves both clocks forward (or back) by `duration`.
    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(monotonic: lhs.monotonic + rhs, wall: lhs.wall + rhs)
    }

    /// The monotonic time from `rhs` to `lhs`.
    public static func - (lhs: Instant, rhs: Instant) -> Duration { lhs.monotonic - rhs.monotonic }

    public var description: String { "Instant(\(self.monotonic), wall: \(self.wall.millisecondsSince1970) ms)" }
}

/// Unix time in milliseconds, as the wire carries it.
public struct WallTime: Comparable, Hashable, Sendable {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var millisecondsSince1970: UInt64

    /// Creates a wall time.
    /// - Parameter millisecondsSince1970: Milliseconds since the Unix epoch.
    public init(millisecondsSince1970: UInt64) { self.millisecondsSince1970 = millisecondsSince1970 }

    public static func < (lhs: WallTime, rhs: WallTime) -> Bool {
        lhs.millisecondsSince1970 < rhs.millisecondsSince1970
    }

    /// Adds a duration, clamping at the epoch.
    public static func + (lhs: WallTime, rhs: Duration) -> WallTime {
        let delta = rhs.wholeMilliseconds
        if delta >= 0 { return WallTime(millisecondsSince1970: lhs.millisecondsSince1970 &+ UInt64(delta)) }
        let back = UInt64(-delta)
        return WallTime(millisecondsSince1970: lhs.millisecondsSince1970 > back ? lhs.millisecondsSince1970 - back : 0)
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded toward zero.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }

    /// The duration in whole nanoseconds, rounded toward zero.
    public var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
