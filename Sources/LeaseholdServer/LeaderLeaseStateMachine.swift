public import LeaseholdCore

/// The decisions of the leader lease (docs/ha.md): when to try a takeover, when to renew, until when the lease is
/// certainly still this node's, and when to step down. Pure: time comes in as `now`, and the caller runs the
/// returned ``Action`` and reports each call's outcome.
///
/// The lease is safe until `sentAt + lease − margin` of the last successful takeover or renewal, where `sentAt`
/// is this node's monotonic time *before* the call was sent: PostgreSQL computed the expiry after that, on its own
/// clock, so the node's deadline comes first as long as the clocks' rates differ by less than the margin.
public struct LeaderLeaseStateMachine: Sendable {
    /// The lease and how often to act on it.
    public struct Configuration: Hashable, Sendable {
        /// How long a takeover or renewal holds, on the database's clock.
        public var lease: Duration
        /// Renew this often while active (several times per lease).
        public var renewInterval: Duration
        /// Try a takeover this often while standby.
        public var takeOverInterval: Duration
        /// Taken off the lease for clock-rate drift and scheduling.
        public var margin: Duration
        /// A call that has not answered after this is given up (and its connection dropped).
        public var callTimeout: Duration

        /// Renewal every lease/4, takeover attempts every lease/4, margin max(lease/10, 100 ms), calls given up
        /// after lease/2.
        public init(lease: Duration) {
            self.lease = lease
            self.renewInterval = lease / 4
            self.takeOverInterval = lease / 4
            self.margin = max(lease / 10, .milliseconds(100))
            self.callTimeout = lease / 2
        }
    }

    /// Whether this node serves.
    public enum Role: Hashable, Sendable {
        /// Not serving; `leader` is the last known active's address (empty if unknown).
        case standby(leader: String)
        /// Serving with `epoch` until `safeUntil` unless a renewal moves it.
        case active(epoch: UInt64, safeUntil: Instant)
    }

    /// What the caller must do now.
    public enum Action: Hashable, Sendable {
        /// Send a takeover; report with ``takeOverSucceeded(_:epoch:)`` or ``callFailed(_:now:)``.
        case takeOver(Call)
        /// Send a renewal for `epoch`; report with ``renewed(_:)``, ``renewalRefused(_:)`` or ``callFailed(_:now:)``.
        case renew(Call, epoch: UInt64)
        /// Start serving as `epoch`: load the state and open the listener.
        case becomeActive(epoch: UInt64)
        /// Stop serving at once: close every client connection, answer nothing.
        case stepDown
        /// Give up `Call`: drop its connection so that it fails.
        case abandon(Call)
    }

    /// One takeover or renewal in flight.
    public struct Call: Hashable, Sendable {
        /// Distinguishes calls; an answer to an abandoned call is ignored.
        public var id: UInt64
        /// The monotonic time before it was sent.
        public var sentAt: Instant
    }

    public let configuration: Configuration
    public private(set) var role: Role = .standby(leader: "")
    private var inFlight: Call?
    private var nextCallAt: Instant
    private var lastCallID: UInt64 = 0

    /// Starts as a standby that tries a takeover at once.
    public init(configuration: Configuration, now: Instant) {
        self.configuration = configuration
        self.nextCallAt = now
    }

    /// The epoch while active.
    public var epoch: UInt64? {
        if case .active(let epoch, _) = self.role { return epoch }
        return nil
    }

    // MARK: - Time

    /// What is due at `now`: a step-down when the lease is no longer certain, an abandoned call, a new call.
    public mutating func tick(now: Instant) -> [Action] {
        var actions: [Action] = []
        if case .active(_, let safeUntil) = self.role, now >= safeUntil {
            self.role = .standby(leader: "")
            actions.append(.stepDown)
            self.nextCallAt = now
        }
        if let call = self.inFlight, now >= call.sentAt + self.configuration.callTimeout {
            self.inFlight = nil
            actions.append(.abandon(call))
        }
        if self.inFlight == nil, now >= self.nextCallAt {
            self.lastCallID += 1
            let call = Call(id: self.lastCallID, sentAt: now)
            self.inFlight = call
            switch self.role {
            case .standby:
                self.nextCallAt = now + self.configuration.takeOverInterval
                actions.append(.takeOver(call))
            case .active(let epoch, _):
                self.nextCallAt = now + self.configuration.renewInterval
                actions.append(.renew(call, epoch: epoch))
            }
        }
        return actions
    }

    /// The next instant at which ``tick(now:)`` has something to do.
    public var nextDeadline: Instant {
        var deadline = self.inFlight.map { $0.sentAt + self.configuration.callTimeout } ?? self.nextCallAt
        if case .active(_, let safeUntil) = self.role { deadline = min(deadline, safeUntil) }
        return deadline
    }

    // MARK: - Answers

    /// The takeover succeeded with `epoch`.
    /// - Returns: ``Action/becomeActive(epoch:)``, or nothing when the answer is stale or came too late to be safe.
    public mutating func takeOverSucceeded(_ call: Call, epoch: UInt64, now: Instant) -> [Action] {
        guard self.inFlight == call else { return [] }
        self.inFlight = nil
        let safeUntil = call.sentAt + (self.configuration.lease - self.configuration.margin)
        // Too late to be sure: the lease may run out before any renewal. Let it lapse; try again later.
        guard now < safeUntil, case .standby = self.role else { return [] }
        self.role = .active(epoch: epoch, safeUntil: safeUntil)
        self.nextCallAt = call.sentAt + self.configuration.renewInterval
        return [.becomeActive(epoch: epoch)]
    }

    /// The takeover found the lease held by `leader`, running out `remaining` after the database answered.
    ///
    /// The next attempt comes at the lease's end (`now + remaining`, never before it while the clocks' rates agree,
    /// since the database measured `remaining` before `now`) when that is sooner than the usual interval: a standby
    /// then takes over within a round trip of the lease running out rather than up to a whole interval later.
    /// - Parameters:
    ///   - remaining: How long the lease had left on the database's clock; nil when unknown.
    ///   - now: When the answer arrived.
    public mutating func takeOverRefused(_ call: Call, leader: String, remaining: Duration? = nil, now: Instant) {
        guard self.inFlight == call else { return }
        self.inFlight = nil
        guard case .standby = self.role else { return }
        self.role = .standby(leader: leader)
        if let remaining {
            self.nextCallAt = min(self.nextCallAt, now + max(remaining, Self.shortestRetry))
        }
    }

    /// The least time between two takeover attempts, so that a lease at its very end is not polled in a tight loop.
    static let shortestRetry = Duration.milliseconds(5)

    /// The renewal succeeded: the lease is safe until `sentAt + lease − margin`.
    public mutating func renewed(_ call: Call) {
        guard self.inFlight == call else { return }
        self.inFlight = nil
        if case .active(let epoch, let safeUntil) = self.role {
            let renewed = call.sentAt + (self.configuration.lease - self.configuration.margin)
            self.role = .active(epoch: epoch, safeUntil: max(safeUntil, renewed))
        }
    }

    /// The database says the lease is no longer this node's.
    /// - Returns: ``Action/stepDown`` if active.
    public mutating func renewalRefused(_ call: Call, now: Instant) -> [Action] {
        guard self.inFlight == call else { return [] }
        self.inFlight = nil
        guard case .active = self.role else { return [] }
        self.role = .standby(leader: "")
        self.nextCallAt = now + self.configuration.takeOverInterval
        return [.stepDown]
    }

    /// The call failed (connection lost, timeout): retry at the next interval; the lease stays safe until its
    /// deadline.
    public mutating func callFailed(_ call: Call, now: Instant) {
        guard self.inFlight == call else { return }
        self.inFlight = nil
    }

    /// The node stops for good: if active, it steps down now.
    public mutating func shutDown() -> [Action] {
        guard case .active = self.role else { return [] }
        self.role = .standby(leader: "")
        return [.stepDown]
    }
}
