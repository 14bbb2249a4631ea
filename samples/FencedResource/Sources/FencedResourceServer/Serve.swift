import ArgumentParser
import FencedResource
import Foundation
import LeaseholdClient
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
            """)

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one; the log says which).")
    var listen = "127.0.0.1:7430"

    @Option(help: "The SQLite file that holds the resources (created if missing).")
    var data = "./fenced.db"

    @Option(
        help: ArgumentHelp(
            "The Leasehold server to validate new tokens with, HOST:PORT. Without it, any token that is not lower than the highest is accepted.",
            valueName: "host:port"))
    var lockServer: String?

    @Option(help: "Bearer token for the lock server, if it has an auth file (default: $LEASEHOLD_TOKEN).")
    var token: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        _ = try Self.split(self.listen, option: "--listen")
        if let lockServer = self.lockServer {
            let (_, port) = try Self.split(lockServer, option: "--lock-server")
            guard port != 0 else { throw ValidationError("--lock-server needs a port other than 0") }
        }
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fenced-resource")

        let (host, port) = try Self.split(self.listen, option: "--listen")
        var validator: LockServerValidator?
        if let lockServer = self.lockServer {
            let token = self.token ?? ProcessInfo.processInfo.environment["LEASEHOLD_TOKEN"] ?? ""
            let (lockHost, lockPort) = try Self.split(lockServer, option: "--lock-server")
            validator = LockServerValidator(
                configuration: LeaseholdClient.Configuration(
                    host: lockHost, port: lockPort, token: token, clientName: "fenced-resource"))
        }
        let service: FencedResourceService
        do {
            service = try FencedResourceService(path: self.data, validator: validator, logger: logger)
        } catch {
            throw ValidationError("cannot open \(self.data): \(error)")
        }
        let server = RPCServer(
            configuration: RPCServer.Configuration(host: host, port: port), services: [service], logger: logger)
        let address: SocketAddress
        do {
            address = try await server.start()
        } catch {
            await service.close()
            throw ValidationError("cannot listen on \(self.listen): \(error)")
        }
        logger.info(
            "fenced-resource listening on \(host):\(address.port ?? port)",
            metadata: ["data": "\(self.data)", "lock-server": "\(self.lockServer ?? "none")"])

        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: Runner(server: server, service: service, validator: validator))],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Splits `HOST:PORT`, accepting `[::1]:PORT` for IPv6.
    static func split(_ address: String, option: String) throws -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (0...65_535).contains(port)
        else {
            throw ValidationError("\(option) must be HOST:PORT, not \(address)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("\(option) must be HOST:PORT, not \(address)") }
        return (host, port)
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
