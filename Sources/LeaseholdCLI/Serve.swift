import ArgumentParser
import Foundation
import LeaseholdCommandOptions
import LeaseholdCore
import LeaseholdPostgres
import LeaseholdRPC
import LeaseholdServer
import LeaseholdStore
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `leasehold serve`: runs the server until SIGINT or SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Leasehold server.",
        discussion: """
            State lives in one SQLite file (--data). Every grant and release is durable before it is \
            acknowledged. SIGINT or SIGTERM stops the server cleanly: it stops accepting, ends open calls, \
            and closes the database. After a restart, every session may be resumed for a full TTL.

            Examples:
              $ leasehold serve --data /var/lib/leasehold/leasehold.db
              $ leasehold serve --listen 0.0.0.0:7420 --auth-file auth.json --lock-delay 5s
              $ leasehold serve --metrics-listen 127.0.0.1:9420

            More than one node: several servers share one PostgreSQL database (15 or later) with \
            --store postgres://USER[:PASSWORD]@HOST:PORT/DB and --advertise HOST:PORT. One is active; the others \
            answer Hello with UNAVAILABLE and the active's address, and take over within the leader lease after it \
            dies. Acknowledged grants survive a PostgreSQL failover only with synchronous replication.
              $ leasehold serve --store postgres://leasehold@db:5432/leasehold --listen 0.0.0.0:7420 \
                  --advertise node1.example:7420 --store-password-file /etc/leasehold/pgpass

            With --auth-file, every client needs a token (see `leasehold hash-token --help`); without it, \
            everyone is the principal `anonymous` and nobody may force-release.

            TLS: --tls-cert and --tls-key serve TLS 1.2 or later on the RPC port; plaintext clients are refused. \
            With --tls-client-ca every client must present a certificate signed by that CA, and an auth file entry \
            with "cert_cn" instead of "sha256" names the principal of a client whose certificate has that subject \
            common name. SIGHUP reads the three files again: new connections use them, open ones carry on.
              $ leasehold serve --listen 0.0.0.0:7420 --tls-cert server.pem --tls-key server.key \
                  --tls-client-ca clients-ca.pem --auth-file auth.json
            """
    )

    @Option(help: "Address to listen on, HOST:PORT.")
    var listen = "127.0.0.1:7420"

    @Option(help: "The SQLite file that holds sessions, locks and events (created if missing).")
    var data = "./leasehold.db"

    @Option(
        help: ArgumentHelp(
            "Where state lives: sqlite:FILE (one node; the same as --data) or postgres://USER[:PASSWORD]@HOST:PORT/DB (several nodes, one active).",
            valueName: "url"
        )
    )
    var store: String?

    @Option(help: "With postgres://: a file holding the database password (else PGPASSWORD, else the URL's).")
    var storePasswordFile: String?

    @Option(
        help:
            "With postgres://: HOST:PORT where clients reach this node; standbys send clients there (default: --listen)."
    )
    var advertise: String?

    @Option(
        help:
            "With postgres://: how long the active node's lease lasts; a standby takes over this long after the active dies."
    )
    var leaderLease = DurationArgument(.seconds(3), text: "3s")

    @Option(
        help: ArgumentHelp(
            "JSON file mapping SHA-256 token digests (or, under mutual TLS, certificate common names) to principals and roles.",
            discussion:
                #"{"tokens": [{"principal": "ops", "sha256": "<hex>", "roles": ["admin"]}, {"principal": "deployer", "cert_cn": "deployer.example"}]}; make digests with `leasehold hash-token`."#
        )
    )
    var authFile: String?

    @OptionGroup var tls: ServerTLSOptions

    @Option(
        help: ArgumentHelp(
            "full: sync every commit to disk (default). normal: faster; a power loss (not a crash) may lose the last few ms of grants.",
            valueName: "full|normal"
        )
    )
    var sync = "full"

    @Option(
        help:
            "After an expiry or force-release, keep the key ungrantable this long (e.g. 5s). Clean releases have no delay."
    )
    var lockDelay = DurationArgument(.zero, text: "0s")

    @Option(help: "Events kept for watchers that resume from the past.")
    var eventRetention = 100_000

    @Option(help: "Serve Prometheus metrics at GET /metrics on this HOST:PORT.")
    var metricsListen: String?

    @Option(help: "Most live sessions.")
    var maxSessions = 1_000_000

    @Option(help: "Most calls waiting on one key.")
    var maxWaitersPerKey = 10_000

    @Option(
        help: ArgumentHelp(
            "Most client connections at once; one more is told RESOURCE_EXHAUSTED and closed.",
            discussion:
                "At start the process's soft file-descriptor limit is raised (up to its hard limit) to hold them."
        )
    )
    var maxConnections = 10_000

    @Option(help: "Most calls open at once on one connection; more get RESOURCE_EXHAUSTED.")
    var maxCallsPerConnection = 10_000

    @Option(
        help:
            "Bytes of a watch stream buffered for a client that does not read; past it the stream ends with RESOURCE_EXHAUSTED."
    )
    var maxStreamBufferBytes = 1 << 20

    @Option(help: "A new connection must complete a successful Hello within this time, or is closed (UNAUTHENTICATED).")
    var helloTimeout = DurationArgument(.seconds(30), text: "30s")

    @Option(
        help:
            "A frame must arrive whole within this time of its first byte, or the connection is closed (DEADLINE_EXCEEDED)."
    )
    var frameTimeout = DurationArgument(.seconds(30), text: "30s")

    @Option(help: "Longest session name and Hello client_name, in UTF-8 bytes; longer gets INVALID_ARGUMENT.")
    var maxNameBytes = 256

    @Option(help: "Longest force-release reason, in UTF-8 bytes; longer gets INVALID_ARGUMENT.")
    var maxReasonBytes = 1_024

    @Option(
        help: ArgumentHelp(
            "Threads that serve connections (default: one per core but one, at least 1).",
            discussion:
                "The store commits on a thread of its own, which the default leaves a core for. On 2 cores one loop gave more lock throughput and used less CPU for idle sessions, and two loops more KeepAlives per second over few busy connections: see bench/README.md.",
            valueName: "n"
        )
    )
    var eventLoops: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Option(
        help: ArgumentHelp(
            "Log format: text, or json (one object per line on stderr).",
            discussion: """
                Expiries and force-releases are logged at info, each grant and release at debug, with key, session, \
                owner and token.
                """,
            valueName: "format"
        )
    )
    var logFormat = "text"

    func validate() throws {
        guard ["full", "normal"].contains(self.sync) else {
            throw ValidationError("--sync must be full or normal, not \(self.sync)")
        }
        _ = try Self.address(self.listen, option: "--listen")
        if let metrics = self.metricsListen { _ = try Self.address(metrics, option: "--metrics-listen") }
        switch try self.storeChoice() {
        case .sqlite: break
        case .postgres:
            guard self.leaderLease.duration >= .milliseconds(500) else {
                throw ValidationError("--leader-lease must be at least 500ms")
            }
        }
        if let advertise = self.advertise { _ = try Self.address(advertise, option: "--advertise") }
        guard self.eventRetention > 0 else { throw ValidationError("--event-retention must be positive") }
        if let loops = self.eventLoops, loops < 1 { throw ValidationError("--event-loops must be at least 1") }
        for (value, option) in [
            (self.maxConnections, "--max-connections"), (self.maxCallsPerConnection, "--max-calls-per-connection"),
            (self.maxStreamBufferBytes, "--max-stream-buffer-bytes"), (self.maxNameBytes, "--max-name-bytes"),
            (self.maxReasonBytes, "--max-reason-bytes"),
        ] where value < 1 {
            throw ValidationError("\(option) must be at least 1")
        }
        guard self.helloTimeout.duration > .zero, self.frameTimeout.duration > .zero else {
            throw ValidationError("--hello-timeout and --frame-timeout must be positive")
        }
        guard ["text", "json"].contains(self.logFormat) else {
            throw ValidationError("--log-format must be text or json, not \(self.logFormat)")
        }
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        // Run Swift concurrency's jobs on the event loops (NIO's take-over of the global executor): a call's task
        // then runs on its connection's thread, with no hop to the cooperative pool and back. Nothing in the
        // server blocks inside a task (SQLite has its own writer thread), which this requires.
        NIOSingletons.groupLoopCountSuggestion = self.eventLoops ?? max(1, System.coreCount - 1)
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        let json = self.logFormat == "json"
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "leasehold")

        var configuration = LeaseholdServer.Configuration()
        let listen = try Self.address(self.listen, option: "--listen")
        (configuration.listenHost, configuration.listenPort) = (listen.host, listen.port)
        configuration.dataPath = self.data
        configuration.synchronous = self.sync == "normal" ? .normal : .full
        configuration.eventRetention = self.eventRetention
        configuration.locks.lockDelay = self.lockDelay.duration
        configuration.locks.maxSessions = self.maxSessions
        configuration.locks.maxWaitersPerKey = self.maxWaitersPerKey
        configuration.rpcLimits.maxConnections = self.maxConnections
        configuration.rpcLimits.maxConcurrentCallsPerConnection = self.maxCallsPerConnection
        configuration.rpcLimits.maxBufferedBytesPerStream = self.maxStreamBufferBytes
        configuration.rpcLimits.helloTimeout = self.helloTimeout.duration
        configuration.rpcLimits.frameTimeout = self.frameTimeout.duration
        configuration.rpcLimits.maxClientNameBytes = self.maxNameBytes
        configuration.textLimits.maxSessionNameBytes = self.maxNameBytes
        configuration.textLimits.maxReasonBytes = self.maxReasonBytes
        // Each connection is a descriptor; leave room for the data file, its journal, the listeners and logs.
        let wanted = UInt64(self.maxConnections) + 64
        let soft = FileDescriptorLimit.raise(to: wanted)
        if soft < wanted {
            logger.warning(
                "the file-descriptor limit is below --max-connections",
                metadata: ["limit": "\(soft)", "max-connections": "\(self.maxConnections)"]
            )
        }
        if let metrics = self.metricsListen {
            let metricsAddress = try Self.address(metrics, option: "--metrics-listen")
            (configuration.metricsHost, configuration.metricsPort) = (metricsAddress.host, metricsAddress.port)
            // The process's one swift-metrics backend: anything recording through swift-metrics shows up on the
            // same endpoint as the server's own metrics.
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            configuration.metricsRegistry = registry
        }
        if let tls = try self.tls.configuration() {
            // Unusable files are a usage error, said before anything starts.
            do {
                _ = try tls.makeContext()
            } catch {
                throw ValidationError("\(error)")
            }
            configuration.tls = tls
        }
        if let authFile = self.authFile {
            do {
                configuration.authenticator = try Authenticator(authFileAt: authFile)
            } catch let error as AuthFileError {
                throw ValidationError("\(error)")
            }
        }

        // The group traps SIGINT and SIGTERM first and then runs the server, which starts there: a signal sent as soon
        // as the server says it listens stops it gracefully, instead of killing it before the traps are set.
        let service: any Service
        let reloadTLS: @Sendable () throws -> Void
        switch try self.storeChoice() {
        case .sqlite(let path):
            configuration.dataPath = path
            let server = LeaseholdServer(configuration: configuration, logger: logger)
            service = server
            reloadTLS = { try server.reloadTLS() }
        case .postgres(var endpoint):
            if let file = self.storePasswordFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ValidationError("--store-password-file \(file) cannot be read")
                }
                endpoint.password = text.trimmingCharacters(in: .newlines)
            } else if let password = ProcessInfo.processInfo.environment["PGPASSWORD"], endpoint.password == nil {
                endpoint.password = password
            }
            var storeConfiguration = PostgresStore.Configuration(endpoint: endpoint, epoch: 0)
            storeConfiguration.eventRetention = self.eventRetention
            let election = PostgresLeaderElection(configuration: storeConfiguration, logger: logger)
            var nodeConfiguration = LeaseholdNode.Configuration(
                server: configuration,
                advertise: self.advertise ?? self.listen
            )
            nodeConfiguration.leaderLease = self.leaderLease.duration
            let node = LeaseholdNode(configuration: nodeConfiguration, election: election, logger: logger)
            service = node
            reloadTLS = { try node.reloadTLS() }
        }
        // SIGHUP reads the TLS files again (a renewed certificate) without dropping a connection. Trapped before the
        // server starts, so that a SIGHUP sent once it listens never finds the default action (exit).
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let reloads = Task {
            for await _ in hangups {
                guard configuration.tls != nil else {
                    logger.info("SIGHUP: nothing to reload without TLS")
                    continue
                }
                do {
                    try reloadTLS()
                } catch {
                    logger.error(
                        "SIGHUP: cannot reload TLS; keeping the old certificate",
                        metadata: ["error": "\(error)"]
                    )
                }
            }
        }
        defer { reloads.cancel() }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: service)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            // The server throws only when it cannot start. Not a usage error: the options were fine, the address
            // or the data file is not to be had.
            StandardError.print("leasehold: cannot start: \(error)")
            throw ExitCode(ExitStatus.unavailable)
        }
    }

    enum StoreChoice {
        case sqlite(String)
        case postgres(PostgresEndpoint)
    }

    /// `--store`, or `--data` when it is absent.
    /// - Throws: `ValidationError` for an unknown scheme or a malformed URL.
    func storeChoice() throws -> StoreChoice {
        guard let store = self.store else { return .sqlite(self.data) }
        if store.hasPrefix("sqlite:") {
            let path = String(store.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw ValidationError("--store sqlite:FILE needs a file") }
            return .sqlite(path)
        }
        if store.hasPrefix("postgres://") || store.hasPrefix("postgresql://") {
            do {
                return .postgres(try PostgresEndpoint(url: store))
            } catch {
                throw ValidationError("--store: \(error)")
            }
        }
        throw ValidationError("--store must be sqlite:FILE or postgres://USER[:PASSWORD]@HOST:PORT/DB")
    }

    /// Parses the `HOST:PORT` given to `option`; port 0 lets the kernel pick one.
    /// - Throws: `ValidationError` (exit status 64) naming the option.
    static func address(_ text: String, option: String) throws -> HostAndPort {
        do {
            return try HostAndPort(parsing: text, allowingPortZero: true)
        } catch {
            throw ValidationError("\(option) must be HOST:PORT, not \(text)")
        }
    }
}
