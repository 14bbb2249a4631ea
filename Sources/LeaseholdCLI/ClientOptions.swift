import ArgumentParser
import Foundation
import LeaseholdClient

/// `--server` and `--token`, shared by every command that talks to a server.
///
/// The options win over the environment (`LEASEHOLD_SERVER`, `LEASEHOLD_TOKEN`), which wins over the defaults.
struct ClientOptions: ParsableArguments {
    /// The address used when neither `--server` nor `LEASEHOLD_SERVER` says otherwise.
    static let defaultServer = "127.0.0.1:7420"

    @Option(
        help: ArgumentHelp(
            "The server's address, or the nodes' addresses separated by commas (a:7420,b:7420: the command uses "
                + "the active one and follows it through a failover). Defaults to $LEASEHOLD_SERVER, else "
                + "\(ClientOptions.defaultServer).",
            valueName: "host:port[,host:port…]"
        )
    )
    var server: String?

    @Option(
        help: ArgumentHelp(
            "Bearer token for a server started with --auth-file. Defaults to $LEASEHOLD_TOKEN, which other users "
                + "cannot see in `ps`.",
            valueName: "token"
        )
    )
    var token: String?

    /// The address to connect to, or a comma-separated list of nodes' addresses.
    var address: String {
        if let server = self.server { return server }
        if let server = ProcessInfo.processInfo.environment["LEASEHOLD_SERVER"], !server.isEmpty { return server }
        return Self.defaultServer
    }

    /// The bearer token to send, empty for none.
    var bearerToken: String {
        self.token ?? ProcessInfo.processInfo.environment["LEASEHOLD_TOKEN"] ?? ""
    }

    func validate() throws {
        _ = try self.configuration()
    }

    /// The client configuration for these addresses and this token.
    /// - Throws: `ValidationError` (exit status 64) when the address is not `HOST:PORT` or a list of them.
    func configuration() throws -> LeaseholdClient.Configuration {
        do {
            var configuration = try LeaseholdClient.Configuration(address: self.address, token: self.bearerToken)
            configuration.clientName = "leasehold-cli"
            return configuration
        } catch {
            let source = self.server == nil && self.address != Self.defaultServer ? "LEASEHOLD_SERVER" : "--server"
            let expected = self.address.contains(",") ? "a comma-separated list of HOST:PORT" : "HOST:PORT"
            throw ValidationError("\(source) must be \(expected), not \(self.address)")
        }
    }

    /// Connects and says `Hello`.
    /// - Throws: `LeaseholdError` (`UNAVAILABLE`, `UNAUTHENTICATED`).
    func connect() async throws -> LeaseholdClient {
        try await LeaseholdClient.connect(self.configuration())
    }
}
