public import LeaseholdCore
public import LeaseholdRPC
public import LeaseholdStore
public import LeaseholdWire
public import Logging
public import NIOCore
public import Prometheus
public import ServiceLifecycle
import Synchronization

/// A whole Leasehold server: the store (SQLite by default, or any ``Store``), the lock service, the expiry timer, the RPC listener and, if asked,
/// the Prometheus endpoint. Runs as a swift-service-lifecycle `Service`.
///
/// ```swift
/// var configuration = LeaseholdServer.Configuration()
/// configuration.listenPort = 0
/// configuration.dataPath = "/tmp/leasehold.db"
/// let server = LeaseholdServer(configuration: configuration, logger: logger)
/// let address = try await server.start()
/// // …
/// await server.stop()
/// ```
public final class LeaseholdServer: Service, Sendable {
    /// Everything `leasehold serve` can set (README.md, "Configuration").
    public struct Configuration: Sendable {
        public var listenHost = "127.0.0.1"
        public var listenPort = 7420
        /// The SQLite file.
        public var dataPath = "./leasehold.db"
        /// `full` syncs every commit; `normal` may lose the last commits on power loss (never on a crash).
        public var synchronous = SQLiteStore.Configuration.Synchronous.full
        public var authenticator = Authenticator.anonymous
        /// Sessions, TTL range, waiters per key, key length, lock delay.
        public var locks = LockTable.Configuration()
        /// Events kept for watchers resuming from the past, by count and by age.
        public var eventRetention = 100_000
        public var eventMaxAge = Duration.seconds(7 * 24 * 3600)
        /// Frame size, calls per connection, stream buffer bounds.
        public var rpcLimits = RPCServer.Limits()
        /// Session names, force-release reasons, prefixes.
        public var textLimits = TextLimits()
        /// Where to serve `GET /metrics`, if anywhere.
        public var metricsHost: String?
        public var metricsPort = 0
        /// Where the metrics' gauges and counters live. `leasehold serve` passes the registry it bootstrapped
        /// swift-metrics with. When nil, each ``LeaseholdServer/start()`` makes a registry of its own, so that
        /// servers in one process (tests, restarts) never mix their counters.
        public var metricsRegistry: PrometheusCollectorRegistry?
        public var serverID = "leasehold"
        /// Asked at every call, `Hello` included: a status to refuse it with, or `nil` to serve (a node on a shared
        /// store refuses once it is no longer sure of its lease, before its listener changes back to a standby's).
        public var callRefusal: (@Sendable () -> Status?)?
        /// Whether this server is the active node and its epoch, for `leasehold_leader` and `leasehold_epoch`; nil
        /// for a single node (always leader, epoch 0).
        public var leadership: (@Sendable () -> (isLeader: Bool, epoch: UInt64))?
        /// Counts metrics even without ``metricsHost``, for a node that serves them from its own endpoint
        /// (``renderMetrics()``).
        var collectsMetricsForNode = false

        public init() {}
    }

    private struct Running {
        var store: any Store
        var locks: LockService
        var rpc: RPCServer
        /// The expiry loop when ``start()`` runs it; ``run()`` runs it as a child task instead.
        var expiry: Task<Void, Never>?
        var metrics: MetricsEndpoint?
        var exporter: ServerMetrics?
    }

    /// Opens the store when the server starts; it is closed when the server stops.
    public typealias StoreOpener = @Sendable () async throws -> any Store

    private let configuration: Configuration
    private let openStore: StoreOpener
    private let clock: any LeaseClock
    private let logger: Logger
    private let running = Mutex<Running?>(nil)

    /// Creates a server on the SQLite file of ``Configuration/dataPath``; nothing runs until ``start()`` or
    /// ``run()``.
    /// - Parameters:
    ///   - configuration: What to listen on and where to keep state.
    ///   - clock: The source of time; tests inject a manual clock.
    ///   - logger: Where the server logs.
    public convenience init(configuration: Configuration, clock: any LeaseClock = SystemLeaseClock(), logger: Logger) {
        self.init(
            configuration: configuration,
            store: Self.sqlite(configuration, logger: logger),
            clock: clock,
            logger: logger
        )
    }

    /// Creates a server on any ``Store``; nothing runs until ``start()`` or ``run()``.
    /// - Parameters:
    ///   - configuration: What to listen on (``Configuration/dataPath`` and ``Configuration/synchronous`` are
    ///     ignored: they are the SQLite store's).
    ///   - store: Opens the store at start.
    ///   - clock: The source of time; tests inject a manual clock.
    ///   - logger: Where the server logs.
    public init(
        configuration: Configuration,
        store: @escaping StoreOpener,
        clock: any LeaseClock = SystemLeaseClock(),
        logger: Logger
    ) {
        self.configuration = configuration
        self.openStore = store
        self.clock = clock
        self.logger = logger
    }

    /// Opens the SQLite store that `configuration` describes.
    public static func sqlite(_ configuration: Configuration, logger: Logger) -> StoreOpener {
        return {
            var storeConfiguration = SQLiteStore.Configuration(path: configuration.dataPath)
            storeConfiguration.synchronous = configuration.synchronous
            storeConfiguration.eventRetention = configuration.eventRetention
            storeConfiguration.eventMaxAge = configuration.eventMaxAge
            return try SQLiteStore(configuration: storeConfiguration, logger: logger)
        }
    }

    /// Opens the store, loads the state and starts listening.
    /// - Returns: The RPC listener's address.
    /// - Throws: The store's errors when it cannot be opened; ``ListenFailed`` when an address cannot be bound.
    @discardableResult
    public func start() async throws -> SocketAddress {
        try await self.start(runsExpiry: true)
    }

    /// ``start()``; with `runsExpiry` false the caller runs ``LockService/runExpiry()`` itself (``run()`` does, as
    /// a child task).
    private func start(runsExpiry: Bool) async throws -> SocketAddress {
        let store = try await self.openStore()
        do {
            let locks = try LockService(
                store: store,
                configuration: self.configuration.locks,
                clock: self.clock,
                logger: self.logger
            )
            var rpcConfiguration = RPCServer.Configuration(
                host: self.configuration.listenHost,
                port: self.configuration.listenPort
            )
            rpcConfiguration.authenticator = self.configuration.authenticator
            rpcConfiguration.limits = self.configuration.rpcLimits
            rpcConfiguration.serverID = self.configuration.serverID
            rpcConfiguration.serverVersion = LeaseholdVersion.current
            let rpcMetrics = self.collectsMetrics ? RPCMetrics() : nil
            rpcConfiguration.observer = rpcMetrics
            rpcConfiguration.callRefusal = self.configuration.callRefusal
            let rpc = RPCServer(
                configuration: rpcConfiguration,
                services: [LeaseholdService(locks: locks, textLimits: self.configuration.textLimits)],
                logger: self.logger
            )
            let address = try await ListenFailed.naming(
                host: self.configuration.listenHost,
                port: self.configuration.listenPort
            ) { try await rpc.start() }
            var metrics: MetricsEndpoint?
            let exporter = rpcMetrics.map { rpcMetrics in
                ServerMetrics(
                    registry: self.configuration.metricsRegistry ?? PrometheusCollectorRegistry(),
                    locks: locks,
                    store: store,
                    rpc: rpcMetrics,
                    connections: { rpc.connectionCount },
                    leadership: self.configuration.leadership
                )
            }
            if let host = self.configuration.metricsHost, let exporter {
                metrics = try await ListenFailed.naming(host: host, port: self.configuration.metricsPort) {
                    try await MetricsEndpoint.start(
                        host: host,
                        port: self.configuration.metricsPort,
                        render: { exporter.render() },
                        sessions: { SessionsReport(locks.sessionsClosestToExpiry(limit: $0)).json() },
                        logger: self.logger
                    )
                }
            }
            let expiry = runsExpiry ? Task { await locks.runExpiry() } : nil
            self.running.withLock {
                $0 = Running(store: store, locks: locks, rpc: rpc, expiry: expiry, metrics: metrics, exporter: exporter)
            }
            return address
        } catch {
            store.close()
            throw error
        }
    }

    /// Runs until graceful shutdown (SIGINT/SIGTERM through a `ServiceGroup`), then stops cleanly. Starts the server
    /// first unless ``start()`` already has: run it in the group that traps the signals, so that none can arrive
    /// between the server listening and the traps being set. The expiry loop runs as a child task of this call.
    /// - Throws: What ``start()`` throws; or, after stopping, the store's error when a failed commit left state that
    ///   cannot be reloaded (the server would otherwise stay up refusing every call).
    public func run() async throws {
        if self.running.withLock({ $0 == nil }) { _ = try await self.start(runsExpiry: false) }
        guard let locks = self.lockService else { return }
        let runsExpiry = self.running.withLock { $0?.expiry == nil }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                if runsExpiry { group.addTask { await locks.runExpiry() } }
                group.addTask {
                    for await error in locks.unrecoverableErrors { throw error }
                }
                group.addTask { try? await gracefulShutdown() }
                // Graceful shutdown ends the run (the first child to return); an unrecoverable store ends it by
                // throwing.
                _ = try await group.next()
                group.cancelAll()
            }
        } catch {
            self.logger.critical("stopping: the lock state cannot be reloaded", metadata: ["error": "\(error)"])
            await self.stop()
            throw error
        }
        await self.stop()
    }

    /// Stops accepting, ends open calls, stops the timer and closes the store. Idempotent.
    public func stop() async {
        guard
            let running = self.running.withLock({ state -> Running? in
                defer { state = nil }
                return state
            })
        else { return }
        running.locks.stop()
        await running.rpc.stop()
        running.expiry?.cancel()
        await running.expiry?.value
        await running.metrics?.stop()
        running.store.close()
        self.logger.info("store closed")
    }

    /// Cuts every client connection, as a network failure would (tests and fault drills).
    public func dropClientConnections() {
        self.running.withLock { $0?.rpc.dropConnections() }
    }

    /// The lock service, once started (tests and metrics).
    public var lockService: LockService? { self.running.withLock { $0?.locks } }

    /// The RPC listener's address, once started.
    public var localAddress: SocketAddress? { self.running.withLock { $0?.rpc.localAddress } }

    /// Whether metrics are counted: an endpoint of its own, or a node's that renders them.
    private var collectsMetrics: Bool {
        self.configuration.metricsHost != nil || self.configuration.collectsMetricsForNode
    }

    /// The Prometheus text of every metric, while running with metrics counted.
    func renderMetrics() -> [UInt8]? { self.running.withLock { $0?.exporter }?.render() }

    /// `GET /sessions`: the sessions closest to expiry as JSON, while running.
    func renderSessions(limit: Int) -> [UInt8]? {
        self.running.withLock { $0?.locks }.map { SessionsReport($0.sessionsClosestToExpiry(limit: limit)).json() }
    }

    /// The metrics endpoint's address, if it runs.
    public var metricsAddress: SocketAddress? { self.running.withLock { $0?.metrics?.localAddress } }
}

/// The version `Hello` reports.
public enum LeaseholdVersion {
    public static let current = "0.1.0"
}
