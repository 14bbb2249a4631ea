import ArgumentParser
import LeaseholdCommandOptions
import LeaseholdRPC
import Testing

@testable import LeaseholdCLI

/// The TLS flags `leasehold serve` and `fenced-resource serve` share, parsed as the command line gives them.
@Suite("Server TLS options")
struct ServerTLSOptionsTests {
    @Test("none is plaintext; a certificate with its key serves TLS; a client CA makes it mutual")
    func configurations() throws {
        #expect(try ServerTLSOptions.parse([]).configuration() == nil)
        let mutual = try ServerTLSOptions.parse([
            "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem",
        ])
        #expect(
            try mutual.configuration()
                == ServerTLSConfiguration(certificatePath: "c.pem", privateKeyPath: "k.pem", clientCAPath: "ca.pem")
        )
        let serve = try Serve.parse(["--tls-cert", "c.pem", "--tls-key", "k.pem"])
        #expect(
            try serve.tls.configuration() == ServerTLSConfiguration(certificatePath: "c.pem", privateKeyPath: "k.pem")
        )
    }

    @Test(
        "flags that do not go together are refused as the command line is parsed, saying why",
        arguments: [
            (["--tls-cert", "c.pem"], "--tls-cert and --tls-key go together"),
            (["--tls-key", "k.pem"], "--tls-cert and --tls-key go together"),
            (["--tls-client-ca", "ca.pem"], "--tls-client-ca needs --tls-cert and --tls-key"),
        ]
    )
    func refused(_ arguments: [String], _ message: String) {
        let parsers: [() throws -> Void] = [
            { _ = try ServerTLSOptions.parse(arguments) }, { _ = try Serve.parse(arguments) },
        ]
        for parse in parsers {
            do {
                try parse()
                Issue.record("\(arguments) parsed")
            } catch {
                #expect(ServerTLSOptions.message(for: error) == message)
            }
        }
    }
}
