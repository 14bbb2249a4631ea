public import ArgumentParser
public import LeaseholdRPC

/// The TLS flags of a command that serves the RPC protocol: `--tls-cert`, `--tls-key` and `--tls-client-ca`, as
/// `leasehold serve` and `fenced-resource serve` take them. Parsing checks that they go together.
///
/// ```swift
/// struct Serve: AsyncParsableCommand {
///     @OptionGroup var tls: ServerTLSOptions
///
///     func run() async throws {
///         var configuration = RPCServer.Configuration(host: "127.0.0.1", port: 7420)
///         configuration.tls = try self.tls.configuration()
///         // …
///     }
/// }
/// ```
public struct ServerTLSOptions: ParsableArguments {
    /// `--tls-cert`: the certificate chain (PEM) to serve TLS with.
    @Option(help: ArgumentHelp("Serve TLS with this certificate chain (PEM); with --tls-key.", valueName: "file"))
    public var tlsCert: String?

    /// `--tls-key`: the private key (PEM) of ``tlsCert``.
    @Option(help: ArgumentHelp("The private key (PEM) of --tls-cert.", valueName: "file"))
    public var tlsKey: String?

    /// `--tls-client-ca`: the CA (PEM) that must have signed every client's certificate (mutual TLS).
    @Option(
        help: ArgumentHelp(
            "With --tls-cert: require a client certificate signed by this CA (PEM), mutual TLS.",
            valueName: "file"
        )
    )
    public var tlsClientCA: String?

    public init() {}

    /// The server's TLS settings: nil without the flags (plaintext).
    /// - Throws: `ValidationError` when they do not go together: a certificate without its key, or the reverse, or
    ///   a client CA without both.
    public func configuration() throws -> ServerTLSConfiguration? {
        do {
            return try ServerTLSConfiguration(flags: self.tlsCert, self.tlsKey, clientCA: self.tlsClientCA)
        } catch let error as TLSFlagError {
            throw ValidationError(error.description)
        }
    }

    /// Refuses flags that do not go together, as the command line is parsed.
    public func validate() throws {
        _ = try self.configuration()
    }
}
