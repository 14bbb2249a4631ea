// MARK: - Statistics

extension LockTable {
    /// How a lock ended, for ``Statistics/releases``.
    public enum ReleaseCause: Int, Hashable, Sendable, CaseIterable {
        /// The holder called `Release`.
        case release
        /// The holder's session expired.
        case expired
        /// An admin force-released it.
        case force
        /// The holder closed its session.
        case sessionClosed

        /// The name metrics use (`leasehold_releases_total{cause}`).
        public var name: String {
            switch self {
            case .release: "release"
            case .expired: "expired"
            case .force: "force"
            case .sessionClosed: "session_closed"
            }
        }
    }

    /// Running totals of what the table did since it was created: what metrics export.
    ///
    /// The table counts as it applies transitions, inside whatever serialises it, so counting costs neither a lock
    /// nor an allocation per call. Totals start at zero on every start; gauges (sessions, locks, waiters) come
    /// from the table's state itself, so they match a reloaded state.
    public struct Statistics: Hashable, Sendable {
        /// Bounds for waits (queued → granted): hand-offs of a millisecond up to waits of ten minutes.
        public static let waitBounds: [Double] = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
        ]
        /// Bounds for holds (granted → released): a millisecond up to an hour.
        public static let holdBounds: [Double] = [
            0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600,
        ]
        /// Bounds for keepalive margins (time left at a keepalive): fine near zero, where trouble shows.
        public static let marginBounds: [Double] = [
            0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 120, 300,
        ]

        /// Locks granted (at once or from a queue).
        public var grants: UInt64 = 0
        /// Locks ended, by ``ReleaseCause`` raw value.
        public var releases: [UInt64] = Array(repeating: 0, count: ReleaseCause.allCases.count)
        /// Sessions that expired.
        public var sessionExpiries: UInt64 = 0
        /// Queued `Acquire` calls whose wait ran out.
        public var acquireTimeouts: UInt64 = 0
        /// Waits that ended in a grant, in seconds (wall clock, millisecond resolution).
        public var waitSeconds = BucketHistogram(upperBounds: Statistics.waitBounds)
        /// Holds that ended, by any cause, in seconds (wall clock, millisecond resolution).
        public var holdSeconds = BucketHistogram(upperBounds: Statistics.holdBounds)
        /// Time a session still had when its keepalive arrived, in seconds.
        public var keepAliveMarginSeconds = BucketHistogram(upperBounds: Statistics.marginBounds)

        /// All zero.
        public init() {}

        /// Locks ended with `cause`.
        public func releases(_ cause: ReleaseCause) -> UInt64 { self.releases[cause.rawValue] }
    }

    /// The span between two wall times, zero if `end` is not later.
    static func elapsed(from start: WallTime, to end: WallTime) -> Duration {
        guard end.millisecondsSince1970 > start.millisecondsSince1970 else { return .zero }
        return .milliseconds(Int64(end.millisecondsSince1970 - start.millisecondsSince1970))
    }
}
