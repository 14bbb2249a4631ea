public import LeaseholdClient
import LeaseholdRPC
public import LeaseholdServer
import LeaseholdTestUtilities
import Logging
import NIOCore

/// Runs `body` against an in-process server on 127.0.0.1 and an ephemeral port, with its SQLite file in a fresh
/// temporary folder; stops the server and removes the folder afterwards.
/// - Parameters:
///   - configure: Adjusts the server's configuration (port and data path are set already).
///   - clock: The server's clock; a ``ManualClock`` for tests that move time by hand.
///   - body: Gets the running server and a client configuration pointing at it.
public func withLeaseholdServer<R>(
    configure: (inout LeaseholdServer.Configuration) -> Void = { _ in },
    clock: any LeaseClock = SystemLeaseClock(),
    _ body: (LeaseholdServer, LeaseholdClient.Configuration) async throws -> R
) async throws -> R {
    let directory = try TemporaryDirectory("leasehold-server")
    defer { directory.remove() }
    var configuration = LeaseholdServer.Configuration()
    configuration.listenPort = 0
    configuration.dataPath = directory.file("leasehold.db")
    // The connection deadlines are wall-clock; on a test machine running hundreds of tests at once a connection may
    // wait longer than the defaults for its turn. Tests of the deadlines set their own.
    configuration.rpcLimits.helloTimeout = .seconds(300)
    configuration.rpcLimits.frameTimeout = .seconds(300)
    configure(&configuration)
    var logger = Logger(label: "leasehold.test")
    logger.logLevel = .warning
    let server = LeaseholdServer(configuration: configuration, clock: clock, logger: logger)
    let address = try await server.start()
    let client = LeaseholdClient.Configuration(host: "127.0.0.1", port: address.port!, callTimeout: .seconds(10))
    do {
        let result = try await body(server, client)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
