import ArgumentParser
import Foundation
import LeaseholdClient
import LeaseholdRPC

/// `--server`, `--token` and the TLS options, shared by every command that talks to a server.
///
/// The options win over the environment (`LEASEHOLD_SERVER`, `LEASEHOLD_TOKEN`, `LEASEHOLD_TLS_CA`), which wins over
/// the defaults.
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

    @Option(
        help: ArgumentHelp(
            "Connect with TLS and verify the server's certificate with this CA (PEM). Defaults to $LEASEHOLD_TLS_CA.",
            valueName: "file"
        )
    )
    var tlsCA: String?

    @Option(
        help: ArgumentHelp(
            "A client certificate (PEM) for a server that requires one (mutual TLS); with --tls-key.",
            valueName: "file"
        )
    )
    var tlsCert: String?

    @Option(help: ArgumentHelp("The private key (PEM) of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    @Option(
        help: ArgumentHelp(
            "How long to keep trying the addresses while none answers as the active node (a failover or a restart "
                + "in progress) before failing with UNAVAILABLE; 0s tries each address once.",
            valueName: "duration"
        )
    )
    var failoverTimeout = DurationArgument(.seconds(10), text: "10s")

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

    /// The CA to verify the server with, if any.
    var certificateAuthority: String? {
        if let ca = self.tlsCA { return ca }
        if let ca = ProcessInfo.processInfo.environment["LEASEHOLD_TLS_CA"], !ca.isEmpty { return ca }
        return nil
    }

    /// TLS settings when any TLS option (or `LEASEHOLD_TLS_CA`) is given; nil for plaintext.
    /// - Throws: `ValidationError` when only one of `--tls-cert` and `--tls-key` is given.
    func tls() throws -> ClientTLSConfiguration? {
        guard (self.tlsCert == nil) == (self.tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        guard self.certificateAuthority != nil || self.tlsCert != nil else { return nil }
        return ClientTLSConfiguration(
            caPath: self.certificateAuthority,
            certificatePath: self.tlsCert,
            privateKeyPath: self.tlsKey
        )
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
            configuration.tls = try self.tls()
            configuration.failoverTimeout = self.failoverTimeout.duration
            return configuration
        } catch let error as ValidationError {
            throw error
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
