public import LeaseholdCore
public import LeaseholdRPC
public import LeaseholdStore
public import Logging
public import NIOCore
import Synchronization
public import Prometheus
public import ServiceLifecycle

/// A whole Leasehold server: the SQLite store, the lock service, the expiry timer, the RPC listener and, if asked,
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

        public init() {}
    }

    private struct Running {
        var store: SQLiteStore
        var locks: LockService
        var rpc: RPCServer
        var expiry: Task<Void, Never>
        var metrics: MetricsEndpoint?
    }

    private let configuration: Configuration
    private let clock: any LeaseClock
    private let logger: Logger
    private let running = Mutex<Running?>(nil)

    /// Creates a server; nothing runs until ``start()`` or ``run()``.
    /// - Parameters:
    ///   - configuration: What to listen on and where to keep state.
    ///   - clock: The source of time; tests inject a manual clock.
    ///   - logger: Where the server logs.
    public init(configuration: Configuration, clock: any LeaseClock = SystemLeaseClock(), logger: Logger) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// Opens the store, loads the state and starts listening.
    /// - Returns: The RPC listener's address.
    /// - Throws: The store's errors when it cannot be opened; ``ListenFailed`` when an address cannot be bound.
    @discardableResult
    public func start() async throws -> SocketAddress {
        var storeConfiguration = SQLiteStore.Configuration(path: self.configuration.dataPath)
        storeConfiguration.synchronous = self.configuration.synchronous
        storeConfiguration.eventRetention = self.configuration.eventRetention
        storeConfiguration.eventMaxAge = self.configuration.eventMaxAge
        let store = try SQLiteStore(configuration: storeConfiguration, logger: self.logger)
        do {
            let locks = try LockService(
                store: store, configuration: self.configuration.locks, clock: self.clock, logger: self.logger)
            var rpcConfiguration = RPCServer.Configuration(
                host: self.configuration.listenHost, port: self.configuration.listenPort)
            rpcConfiguration.authenticator = self.configuration.authenticator
            rpcConfiguration.limits = self.configuration.rpcLimits
            rpcConfiguration.serverID = self.configuration.serverID
            rpcConfiguration.serverVersion = LeaseholdVersion.current
            let rpcMetrics = self.configuration.metricsHost == nil ? nil : RPCMetrics()
            rpcConfiguration.observer = rpcMetrics
            let rpc = RPCServer(
                configuration: rpcConfiguration, services: [LeaseholdService(locks: locks, textLimits: self.configuration.textLimits)],
                logger: self.logger)
            let address = try await ListenFailed.naming(
                host: self.configuration.listenHost, port: self.configuration.listenPort
            ) { try await rpc.start() }
            var metrics: MetricsEndpoint?
            if let host = self.configuration.metricsHost, let rpcMetrics {
                let exporter = ServerMetrics(
                    registry: self.configuration.metricsRegistry ?? PrometheusCollectorRegistry(), locks: locks, store: store, rpc: rpcMetrics,
                    connections: { rpc.connectionCount })
                metrics = try await ListenFailed.naming(host: host, port: self.configuration.metricsPort) {
                    try await MetricsEndpoint.start(
                        host: host, port: self.configuration.metricsPort, render: { exporter.render() },
                        logger: self.logger)
                }
            }
            let expiry = Task { await locks.runExpiry() }
            self.running.withLock { $0 = Running(store: store, locks: locks, rpc: rpc, expiry: expiry, metrics: metrics) }
            return address
        } catch {
            store.close()
            throw error
        }
    }

    /// Runs until graceful shutdown (SIGINT/SIGTERM through a `ServiceGroup`), then stops cleanly. Starts the server
    /// first unless ``start()`` already has: run it in the group that traps the signals, so that none can arrive
    /// between the server listening and the traps being set.
    /// - Throws: Only what ``start()`` throws.
    public func run() async throws {
        if self.running.withLock({ $0 == nil }) { try await self.start() }
        try? await gracefulShutdown()
        await self.stop()
    }

    /// Stops accepting, ends open calls, stops the timer and closes the store. Idempotent.
    public func stop() async {
        guard let running = self.running.withLock({ state -> Running? in
            defer { state = nil }
            return state
        }) else { return }
        running.locks.stop()
        await running.rpc.stop()
        running.expiry.cancel()
        await running.expiry.value
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

    /// The metrics endpoint's address, if it runs.
    public var metricsAddress: SocketAddress? { self.running.withLock { $0?.metrics?.localAddress } }
}

/// The version `Hello` reports.
public enum LeaseholdVersion {
    public static let current = "0.1.0"
}
