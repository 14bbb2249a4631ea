import LeaseholdCore
import LeaseholdRPC
public import LeaseholdStore
import LeaseholdWire
public import Logging
public import NIOCore
public import ServiceLifecycle
import Synchronization

/// One of several servers on a shared store (PostgreSQL), active or standby (docs/ha.md).
///
/// The node always listens on its RPC port. As a standby it answers `Hello` with `UNAVAILABLE` and the active
/// node's address in `Status.leader`, and nothing else. The leader-lease loop (``LeaderLeaseStateMachine`` plus
/// the calls of a ``LeaderElection``) decides when it takes over: it then opens the store with its new epoch,
/// loads the state (every session gets a fresh TTL) and serves as a full ``LeaseholdServer`` on the same port. When
/// it can no longer be sure of its lease it steps down at once: every client connection closes, queued waits fail,
/// no keepalive is answered, and it comes back as a standby.
///
/// ```swift
/// var configuration = LeaseholdNode.Configuration(server: .init(), advertise: "10.0.0.1:7420")
/// let node = LeaseholdNode(configuration: configuration, election: election, logger: logger)
/// try await node.start()
/// // …
/// await node.stop()
/// ```
public final class LeaseholdNode: Service, Sendable {
    /// The server's settings plus the lease's.
    public struct Configuration: Sendable {
        /// Listen address, auth, limits, metrics address; ``LeaseholdServer/Configuration/dataPath`` is unused.
        public var server: LeaseholdServer.Configuration
        /// `HOST:PORT` that clients reach this node at, given to clients by standbys.
        public var advertise: String
        /// How long the leader lease lasts.
        public var leaderLease = Duration.seconds(3)

        public init(server: LeaseholdServer.Configuration, advertise: String) {
            self.server = server
            self.advertise = advertise
        }
    }

    private enum Transition: Sendable {
        case becomeActive(epoch: UInt64, term: UInt64)
        case becomeStandby(term: UInt64)
    }

    private struct State {
        var machine: LeaderLeaseStateMachine
        /// Moves at every change of role; work of an older term stops when it notices.
        var term: UInt64 = 0
        /// Whether clients may say `Hello`: only while the current term's server runs.
        var serving = false
        var active: LeaseholdServer?
        var standby: RPCServer?
        var port: Int
        var loop: Task<Void, Never>?
        var transitions: Task<Void, Never>?
        var metrics: MetricsEndpoint?
        var stopped = false
    }

    private let configuration: Configuration
    private let election: any LeaderElection
    private let clock: any LeaseClock
    private let logger: Logger
    private let holder: String
    private let state: Mutex<State>
    private let pending: (stream: AsyncStream<Transition>, continuation: AsyncStream<Transition>.Continuation)

    /// Creates a node; nothing runs until ``start()`` or ``run()``.
    /// - Parameters:
    ///   - configuration: The server's and the lease's settings.
    ///   - election: The leader lease and the store it guards.
    ///   - clock: The monotonic clock the lease is measured on locally.
    ///   - logger: Where to log.
    public init(
        configuration: Configuration,
        election: any LeaderElection,
        clock: any LeaseClock = SystemLeaseClock(),
        logger: Logger
    ) {
        self.configuration = configuration
        self.election = election
        self.clock = clock
        self.logger = logger
        var generator = SystemRandomNumberGenerator()
        let nonce = String(UInt64.random(in: .min ... .max, using: &generator), radix: 16)
        self.holder = "\(configuration.advertise)/\(nonce)"
        self.state = Mutex(
            State(
                machine: LeaderLeaseStateMachine(
                    configuration: .init(lease: configuration.leaderLease),
                    now: clock.now()
                ),
                port: configuration.server.listenPort
            )
        )
        self.pending = AsyncStream.makeStream(of: Transition.self)
    }

    /// Starts listening as a standby and starts the lease loop.
    /// - Returns: The RPC listener's address.
    /// - Throws: ``ListenFailed`` when an address cannot be bound.
    @discardableResult
    public func start() async throws -> SocketAddress {
        let standby = self.makeStandby(port: self.configuration.server.listenPort)
        let address = try await ListenFailed.naming(
            host: self.configuration.server.listenHost,
            port: self.configuration.server.listenPort
        ) { try await standby.start() }
        var metrics: MetricsEndpoint?
        if let host = self.configuration.server.metricsHost {
            metrics = try await ListenFailed.naming(host: host, port: self.configuration.server.metricsPort) {
                try await MetricsEndpoint.start(
                    host: host,
                    port: self.configuration.server.metricsPort,
                    render: { [self] in self.renderMetrics() },
                    // A standby has no sessions: its list is empty.
                    sessions: { [self] limit in
                        self.state.withLock({ $0.active })?.renderSessions(limit: limit) ?? SessionsReport([]).json()
                    },
                    logger: self.logger
                )
            }
        }
        let transitions = Task { [self] in
            for await transition in self.pending.stream { await self.perform(transition) }
        }
        let loop = Task { [self] in await self.runLeaseLoop() }
        self.state.withLock { state in
            state.standby = standby
            state.port = address.port ?? self.configuration.server.listenPort
            state.metrics = metrics
            state.loop = loop
            state.transitions = transitions
        }
        self.logger.info("standby; waiting for the leader lease", metadata: ["holder": "\(self.holder)"])
        return address
    }

    /// Runs until graceful shutdown, then stops (resigning the lease if active).
    public func run() async throws {
        if self.state.withLock({ $0.loop == nil }) { try await self.start() }
        try? await gracefulShutdown()
        await self.stop()
    }

    /// Reads the TLS files again for the listener this node has now, active or standby; new connections use
    /// them, open ones carry on (`leasehold serve` on SIGHUP). A later change of role reads the files anew anyway.
    /// - Throws: ``TLSFileError`` when a file cannot be used; the listener then keeps the certificate it had.
    public func reloadTLS() throws {
        let (active, standby) = self.state.withLock { ($0.active, $0.standby) }
        try active?.reloadTLS()
        try standby?.reloadTLS()
    }

    /// Stops the lease loop, steps down (resigning the lease so a standby need not wait), and closes the listener.
    public func stop() async {
        let (loop, transitions, epoch) = self.state.withLock { state in
            state.stopped = true
            state.term += 1
            state.serving = false
            let epoch = state.machine.epoch
            _ = state.machine.shutDown()
            return (state.loop, state.transitions, epoch)
        }
        loop?.cancel()
        await loop?.value
        self.pending.continuation.finish()
        await transitions?.value
        let (active, standby, metrics) = self.state.withLock { state in
            defer { (state.active, state.standby, state.metrics) = (nil, nil, nil) }
            return (state.active, state.standby, state.metrics)
        }
        await active?.stop()
        if let epoch, active != nil { try? await self.election.resign(holder: self.holder, epoch: epoch) }
        await standby?.stop()
        await metrics?.stop()
        self.election.reset()
    }

    /// Whether this node serves, and its epoch (0 before its first takeover).
    public var leadership: (isLeader: Bool, epoch: UInt64) {
        self.state.withLock { ($0.serving, $0.machine.epoch ?? 0) }
    }

    /// `GET /metrics`: the active server's metrics while active; as a standby, whether it leads and its epoch.
    private func renderMetrics() -> [UInt8] {
        if let text = self.state.withLock({ $0.active })?.renderMetrics() { return text }
        let (isLeader, epoch) = self.leadership
        let text = """
            # HELP leasehold_leader 1 on the node that serves, 0 on a standby.
            # TYPE leasehold_leader gauge
            leasehold_leader \(isLeader ? 1 : 0)
            # HELP leasehold_epoch The epoch of this node's last takeover (0 before any).
            # TYPE leasehold_epoch gauge
            leasehold_epoch \(epoch)

            """
        return Array(text.utf8)
    }

    /// The RPC listener's address.
    public var localAddress: SocketAddress? {
        self.state.withLock { $0.active?.localAddress ?? $0.standby?.localAddress }
    }

    /// The metrics endpoint's address, if it runs.
    public var metricsAddress: SocketAddress? { self.state.withLock { $0.metrics?.localAddress } }

    /// The lock service while active (tests).
    public var lockService: LockService? { self.state.withLock { $0.active?.lockService } }

    // MARK: - Lease loop

    private func runLeaseLoop() async {
        while !Task.isCancelled {
            let now = self.clock.now()
            let (actions, next) = self.state.withLock { state in
                (state.machine.tick(now: now), state.machine.nextDeadline)
            }
            self.handle(actions)
            // Answers arrive on their own tasks and may move the deadline earlier: look again at least every 20 ms.
            let wake = min(next, self.clock.now() + .milliseconds(20))
            do { try await self.clock.sleep(until: wake) } catch { return }
        }
    }

    private func handle(_ actions: [LeaderLeaseStateMachine.Action]) {
        for action in actions {
            switch action {
            case .takeOver(let call):
                Task { [self] in
                    do {
                        let outcome = try await self.election.takeOver(
                            holder: self.holder,
                            advertise: self.configuration.advertise,
                            lease: self.configuration.leaderLease
                        )
                        let now = self.clock.now()
                        let actions = self.state.withLock { state -> [LeaderLeaseStateMachine.Action] in
                            switch outcome {
                            case .took(let epoch): return state.machine.takeOverSucceeded(call, epoch: epoch, now: now)
                            case .held(let leader, _, let remaining):
                                state.machine.takeOverRefused(call, leader: leader, remaining: remaining, now: now)
                                return []
                            }
                        }
                        self.handle(actions)
                    } catch {
                        self.logger.debug("takeover attempt failed", metadata: ["error": "\(error)"])
                        self.state.withLock { $0.machine.callFailed(call, now: self.clock.now()) }
                    }
                }
            case .renew(let call, let epoch):
                Task { [self] in
                    do {
                        let renewed = try await self.election.renew(
                            holder: self.holder,
                            epoch: epoch,
                            lease: self.configuration.leaderLease
                        )
                        let now = self.clock.now()
                        let actions = self.state.withLock { state -> [LeaderLeaseStateMachine.Action] in
                            if renewed {
                                state.machine.renewed(call)
                                return []
                            }
                            return state.machine.renewalRefused(call, now: now)
                        }
                        self.handle(actions)
                    } catch {
                        self.logger.info("lease renewal failed", metadata: ["error": "\(error)"])
                        self.state.withLock { $0.machine.callFailed(call, now: self.clock.now()) }
                    }
                }
            case .abandon:
                self.logger.info("a lease call did not answer in time; reconnecting")
                self.election.reset()
            case .becomeActive(let epoch):
                let term = self.state.withLock { state in
                    state.term += 1
                    return state.term
                }
                self.logger.notice("took the leader lease", metadata: ["epoch": "\(epoch)"])
                self.pending.continuation.yield(.becomeActive(epoch: epoch, term: term))
            case .stepDown:
                self.stepDownNow()
            }
        }
    }

    /// The part of a step-down that cannot wait: refuse every `Hello`, stop the lock service (no keepalive, no
    /// grant), close every client connection. The listener changes back to a standby's afterwards.
    private func stepDownNow() {
        let (active, term) = self.state.withLock { state in
            state.term += 1
            state.serving = false
            return (state.active, state.term)
        }
        active?.lockService?.stop()
        active?.dropClientConnections()
        self.logger.notice("stepped down: the leader lease is no longer certain")
        self.pending.continuation.yield(.becomeStandby(term: term))
    }

    // MARK: - Transitions (one at a time)

    private func perform(_ transition: Transition) async {
        switch transition {
        case .becomeActive(let epoch, let term):
            guard self.isCurrent(term) else { return }
            let (standby, port) = self.state.withLock { state in
                defer { state.standby = nil }
                return (state.standby, state.port)
            }
            await standby?.stop()
            var configuration = self.configuration.server
            configuration.listenPort = port
            configuration.metricsHost = nil
            configuration.collectsMetricsForNode = self.configuration.server.metricsHost != nil
            configuration.leadership = { [self] in self.leadership }
            configuration.callRefusal = { [self] in self.refusal() }
            let election = self.election
            let server = LeaseholdServer(
                configuration: configuration,
                store: { try await election.openStore(epoch: epoch) },
                clock: self.clock,
                logger: self.logger
            )
            do {
                try await server.start()
            } catch {
                self.logger.error("cannot serve after the takeover", metadata: ["error": "\(error)"])
                try? await self.election.resign(holder: self.holder, epoch: epoch)
                let actions = self.state.withLock { $0.machine.shutDown() }
                if !actions.isEmpty { self.stepDownNow() } else { await self.restartStandby() }
                return
            }
            let current = self.state.withLock { state -> Bool in
                guard state.term == term, !state.stopped else { return false }
                state.active = server
                state.serving = true
                return true
            }
            if current {
                self.logger.notice(
                    "active",
                    metadata: ["epoch": "\(epoch)", "advertise": "\(self.configuration.advertise)"]
                )
            } else {
                await server.stop()
                await self.restartStandby()
            }
        case .becomeStandby(let term):
            guard self.isCurrent(term) else { return }
            let active = self.state.withLock { state in
                defer { state.active = nil }
                return state.active
            }
            await active?.stop()
            await self.restartStandby()
        }
    }

    private func restartStandby() async {
        let (port, stopped, hasStandby) = self.state.withLock { ($0.port, $0.stopped, $0.standby != nil) }
        guard !stopped, !hasStandby else { return }
        let standby = self.makeStandby(port: port)
        do {
            try await standby.start()
            self.state.withLock { $0.standby = standby }
        } catch {
            self.logger.error("cannot listen as a standby", metadata: ["error": "\(error)"])
        }
    }

    private func isCurrent(_ term: UInt64) -> Bool {
        self.state.withLock { $0.term == term && !$0.stopped }
    }

    private func makeStandby(port: Int) -> RPCServer {
        var configuration = RPCServer.Configuration(host: self.configuration.server.listenHost, port: port)
        configuration.authenticator = self.configuration.server.authenticator
        configuration.tls = self.configuration.server.tls
        configuration.limits = self.configuration.server.rpcLimits
        configuration.serverID = self.configuration.server.serverID
        configuration.serverVersion = LeaseholdVersion.current
        configuration.callRefusal = { [self] in self.refusal() }
        return RPCServer(configuration: configuration, services: [], logger: self.logger)
    }

    /// `nil` while this node serves; otherwise `UNAVAILABLE` naming the active node if known.
    /// Asked at every call: besides the role, the lease's deadline is checked against the monotonic clock here,
    /// so a node that was paused past it refuses calls at once, before its lease loop has run.
    private func refusal() -> Status? {
        let (serving, role) = self.state.withLock { ($0.serving, $0.machine.role) }
        if serving, case .active(_, let safeUntil) = role, self.clock.now() < safeUntil { return nil }
        var leader = ""
        if case .standby(let known) = role, known != self.configuration.advertise { leader = known }
        let message =
            leader.isEmpty
            ? "this node is a standby and no active node is known yet; try another address"
            : "this node is a standby; the active node is \(leader)"
        return Status(code: .unavailable, message: message, leader: leader)
    }
}
