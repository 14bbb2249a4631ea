import ArgumentParser
import FencedResource
import Foundation
import LeaseholdClient
import LeaseholdCommandOptions
import LeaseholdRPC
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `fenced-resource serve`: runs the service until SIGINT or SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve fencedresource.v1.FencedResource.",
        discussion: """
            Resources live in one SQLite file (--data), with each resource's data, version and highest accepted \
            fencing token; every accepted write is on disk before it is acknowledged, so a restart never lets a \
            stale writer in. A write whose token is lower than the resource's highest is refused with \
            STALE_FENCING_TOKEN. With --lock-server, a token the resource has not seen yet is also checked with \
            the lock server (Validate) and refused if its lock was already released or expired. SIGINT or SIGTERM \
            stops the server cleanly.

            TLS: --tls-cert and --tls-key serve TLS (1.2 or later), --tls-client-ca requires client certificates, \
            as `leasehold serve` does; SIGHUP reads them again. --tls-ca (or $LEASEHOLD_TLS_CA) connects to the lock \
            server with TLS, and --lock-server-tls-cert and --lock-server-tls-key present a client certificate to it \
            (named apart from the server's own --tls-cert and --tls-key).
            """
    )

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one; the log says which).")
    var listen = "127.0.0.1:7430"

    @Option(help: "The SQLite file that holds the resources (created if missing).")
    var data = "./fenced.db"

    @Option(
        help: ArgumentHelp(
            "The Leasehold server to validate new tokens with, HOST:PORT, or its nodes' addresses separated by "
                + "commas (the active one is used, and followed through a failover). Without it, any token that is "
                + "not lower than the highest is accepted.",
            valueName: "host:port[,host:port…]"
        )
    )
    var lockServer: String?

    @Option(help: "Bearer token for the lock server, if it has an auth file (default: $LEASEHOLD_TOKEN).")
    var token: String?

    @OptionGroup var tls: ServerTLSOptions

    @Option(
        help: ArgumentHelp(
            "Connect to --lock-server with TLS, verifying it with this CA (PEM). Defaults to $LEASEHOLD_TLS_CA.",
            valueName: "file"
        )
    )
    var tlsCA: String?

    @Option(
        help: ArgumentHelp("A client certificate (PEM) to present to --lock-server (mutual TLS).", valueName: "file")
    )
    var lockServerTlsCert: String?

    @Option(help: ArgumentHelp("The private key (PEM) of --lock-server-tls-cert.", valueName: "file"))
    var lockServerTlsKey: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    /// TLS for the lock-server connection; nil when no TLS option for it (nor `LEASEHOLD_TLS_CA`) is given.
    func lockServerTLS() throws -> ClientTLSConfiguration? {
        guard (self.lockServerTlsCert == nil) == (self.lockServerTlsKey == nil) else {
            throw ValidationError("--lock-server-tls-cert and --lock-server-tls-key go together")
        }
        let environment = ProcessInfo.processInfo.environment["LEASEHOLD_TLS_CA"].flatMap { $0.isEmpty ? nil : $0 }
        let ca = self.tlsCA ?? environment
        guard ca != nil || self.lockServerTlsCert != nil else { return nil }
        return ClientTLSConfiguration(
            caPath: ca,
            certificatePath: self.lockServerTlsCert,
            privateKeyPath: self.lockServerTlsKey
        )
    }

    func validate() throws {
        _ = try Self.address(self.listen, option: "--listen", allowingPortZero: true)
        if let lockServer = self.lockServer {
            _ = try Self.endpoints(lockServer, option: "--lock-server")
        }
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        _ = try self.lockServerTLS()
    }

    func run() async throws {
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fenced-resource")

        let listen = try Self.address(self.listen, option: "--listen", allowingPortZero: true)
        var validator: LockServerValidator?
        if let lockServer = self.lockServer {
            let token = self.token ?? ProcessInfo.processInfo.environment["LEASEHOLD_TOKEN"] ?? ""
            validator = LockServerValidator(
                configuration: LeaseholdClient.Configuration(
                    endpoints: try Self.endpoints(lockServer, option: "--lock-server"),
                    token: token,
                    clientName: "fenced-resource",
                    // A check waits out a lock-server failover (a 3 s lease) but answers its own caller UNAVAILABLE
                    // well before a client's usual 10 s deadline when no lock server is active.
                    failoverTimeout: .seconds(5),
                    tls: try self.lockServerTLS()
                )
            )
        }
        let service: FencedResourceService
        do {
            service = try FencedResourceService(path: self.data, validator: validator, logger: logger)
        } catch {
            throw ValidationError("cannot open \(self.data): \(error)")
        }
        var configuration = RPCServer.Configuration(host: listen.host, port: listen.port)
        configuration.tls = try self.tls.configuration()
        let server = RPCServer(configuration: configuration, services: [service], logger: logger)
        // SIGHUP reads the TLS files again; trapped before the server listens.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let reloads = Task {
            for await _ in hangups {
                do {
                    try server.reloadTLS()
                } catch {
                    logger.error(
                        "SIGHUP: cannot reload TLS; keeping the old certificate",
                        metadata: ["error": "\(error)"]
                    )
                }
            }
        }
        defer { reloads.cancel() }
        let address: SocketAddress
        do {
            address = try await server.start()
        } catch {
            await service.close()
            throw ValidationError("cannot listen on \(self.listen): \(error)")
        }
        logger.info(
            "fenced-resource listening on \(listen.host):\(address.port ?? listen.port)",
            metadata: ["data": "\(self.data)", "lock-server": "\(self.lockServer ?? "none")"]
        )

        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: Runner(server: server, service: service, validator: validator))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// Parses the `HOST:PORT` list (one or more, separated by commas) given to `option`.
    /// - Throws: `ValidationError` (exit status 64) naming the option.
    static func endpoints(_ text: String, option: String) throws -> [LeaseholdClient.Endpoint] {
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            _ = try Self.address(item.trimmingCharacters(in: .whitespaces), option: option, allowingPortZero: false)
        }
        do {
            return try LeaseholdClient.Endpoint.list(parsing: text)
        } catch {
            throw ValidationError("\(option) must be HOST:PORT or a comma-separated list of them, not \(text)")
        }
    }

    /// Parses the `HOST:PORT` given to `option`.
    /// - Parameter allowingPortZero: True for an address to listen on (the kernel picks a free port).
    /// - Throws: `ValidationError` (exit status 64) naming the option.
    static func address(_ text: String, option: String, allowingPortZero: Bool) throws -> HostAndPort {
        do {
            return try HostAndPort(parsing: text, allowingPortZero: allowingPortZero)
        } catch let error as HostAndPort.ParseError where error.reason == .portZero {
            throw ValidationError("\(option) needs a port other than 0")
        } catch {
            throw ValidationError("\(option) must be HOST:PORT, not \(text)")
        }
    }
}

/// Keeps the started server up until graceful shutdown, then stops it, closes the file and the lock-server client.
private struct Runner: Service {
    let server: RPCServer
    let service: FencedResourceService
    let validator: LockServerValidator?

    func run() async throws {
        try? await gracefulShutdown()
        await self.server.stop()
        await self.service.close()
        await self.validator?.close()
    }
}
