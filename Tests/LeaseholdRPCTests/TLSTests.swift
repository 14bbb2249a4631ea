import Foundation
import LeaseholdTestUtilities
import LeaseholdWire
import Logging
import NIOCore
import Synchronization
import Testing

@testable import LeaseholdRPC

/// A CA, a server certificate for loopback, two client certificates and a second CA that signed none of them, made
/// with `openssl` in a fresh folder.
private struct Certificates {
    let folder: TemporaryDirectory
    let ca: TestCertificates
    let server: TestCertificates.Pair
    let admin: TestCertificates.Pair
    let other: TestCertificates.Pair
    let strangerCA: TestCertificates

    init() throws {
        self.folder = try TemporaryDirectory("leasehold-tls")
        self.ca = try TestCertificates(in: self.folder.path, name: "ca")
        self.server = try self.ca.issue("server", commonName: "localhost", server: true)
        self.admin = try self.ca.issue("admin", commonName: "admin.example")
        self.other = try self.ca.issue("other", commonName: "other.example")
        self.strangerCA = try TestCertificates(in: self.folder.path, name: "stranger-ca")
    }

    func serverTLS(mutual: Bool = false) -> ServerTLSConfiguration {
        ServerTLSConfiguration(
            certificatePath: self.server.certificate,
            privateKeyPath: self.server.key,
            clientCAPath: mutual ? self.ca.caCertificate : nil
        )
    }

    func clientTLS(_ pair: TestCertificates.Pair? = nil) -> ClientTLSConfiguration {
        ClientTLSConfiguration(
            caPath: self.ca.caCertificate,
            certificatePath: pair?.certificate,
            privateKeyPath: pair?.key
        )
    }
}

/// Connects to the test server on `port` of `host` and says `Hello` (with `token`, if any).
private func connect(
    port: Int,
    host: String = "127.0.0.1",
    token: String = "",
    tls: ClientTLSConfiguration?
) async throws -> RPCConnection {
    try await RPCConnection.connect(
        host: host,
        port: port,
        hello: HelloRequest(token: token),
        connectTimeout: .seconds(20),
        tls: tls
    )
}

/// Runs `body` against a test server (``withTestServer``) that serves TLS with a fresh set of ``Certificates``,
/// mutual TLS when `mutual`; removes the certificates afterwards.
private func withTLSServer<R>(
    mutual: Bool = false,
    authenticator: Authenticator = .anonymous,
    observer: (any RPCCallObserver)? = nil,
    logger: Logger = Logger(label: "test"),
    _ body: (Certificates, RPCServer, Int) async throws -> R
) async throws -> R {
    let certificates = try Certificates()
    defer { certificates.folder.remove() }
    return try await withTestServer(
        authenticator: authenticator,
        tls: certificates.serverTLS(mutual: mutual),
        observer: observer,
        logger: logger
    ) { server, port in
        try await body(certificates, server, port)
    }
}

/// Keeps the messages logged, for tests that check what the server said.
private final class RecordedLog: Sendable {
    private let messages = Mutex<[String]>([])
    var all: [String] { self.messages.withLock { $0 } }
    func append(_ message: String) { self.messages.withLock { $0.append(message) } }

    struct Handler: LogHandler {
        let log: RecordedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            self.log.append("\(event.message) \(event.metadata ?? [:])")
        }
    }
}

@Suite("TLS on the RPC port")
struct TLSTests {
    @Test("a client that trusts the server's CA makes calls over TLS")
    func roundTrip() async throws {
        try await withTLSServer { certificates, _, port in
            for host in ["127.0.0.1", "localhost"] {
                let connection = try await connect(port: port, host: host, tls: certificates.clientTLS())
                let answer: ForceReleaseRequest = try await connection.unary(
                    TestService.echo,
                    ForceReleaseRequest(key: "over-tls", reason: "")
                )
                #expect(answer.key == "over-tls")
                #expect(connection.hello.principal == "anonymous")
                await connection.close()
            }
        }
    }

    @Test("a plaintext client of a TLS port is refused: closed, logged, told why; the server carries on")
    func plaintextRefused() async throws {
        let log = RecordedLog()
        let refusals = RefusalCounter()
        let logger = Logger(label: "tls-test") { _ in RecordedLog.Handler(log: log) }
        try await withTLSServer(observer: refusals, logger: logger) { certificates, server, port in
            let error = await #expect(throws: LeaseholdError.self) {
                try await connect(port: port, tls: nil)
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("TLS") == true, "\(error?.message ?? "")")
            try await eventually(within: .seconds(20), "the refused connection to close") {
                server.connectionCount == 0
            }
            try await eventually(within: .seconds(20), "the refusal to be logged") {
                log.all.contains { $0.contains("TLS handshake failed") }
            }
            #expect(refusals.all == [.tlsHandshake: 1])

            // The raw bytes of a plaintext Hello get no frame back: the connection just ends.
            let raw = try await RawFrameClient(port: port)
            _ = try? await raw.hello()
            #expect(await raw.next() == nil)
            await raw.close()

            let connection = try await connect(port: port, tls: certificates.clientTLS())
            #expect(connection.hello.protocolVersion == LeaseholdMethod.protocolVersion)
            await connection.close()
        }
    }

    @Test("a client refuses a server whose certificate its CA did not sign")
    func untrustedServerRefused() async throws {
        try await withTLSServer { certificates, server, port in
            let error = await #expect(throws: LeaseholdError.self) {
                try await connect(
                    port: port,
                    tls: ClientTLSConfiguration(caPath: certificates.strangerCA.caCertificate)
                )
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("TLS handshake failed") == true, "\(error?.message ?? "")")
            try await eventually(within: .seconds(20), "the server to drop the connection") {
                server.connectionCount == 0
            }
        }
    }

    @Test("a TLS client of a plaintext port fails with an error, not a hang")
    func tlsClientOfPlaintextServer() async throws {
        let certificates = try Certificates()
        defer { certificates.folder.remove() }
        try await withTestServer { _, port in
            let error = await #expect(throws: LeaseholdError.self) {
                try await connect(port: port, tls: certificates.clientTLS())
            }
            #expect(error?.code == .unavailable)
        }
    }

    @Test("under mutual TLS a client without a certificate, or with a stranger's, is refused")
    func clientCertificateRequired() async throws {
        try await withTLSServer(mutual: true) { certificates, server, port in
            let stranger = try certificates.strangerCA.issue("stranger", commonName: "admin.example")
            for tls in [certificates.clientTLS(), certificates.clientTLS(stranger)] {
                await #expect(throws: LeaseholdError.self) { try await connect(port: port, tls: tls) }
            }
            try await eventually(within: .seconds(20), "the refused connections to close") {
                server.connectionCount == 0
            }
            let connection = try await connect(port: port, tls: certificates.clientTLS(certificates.other))
            #expect(connection.hello.principal == "anonymous")
            await connection.close()
        }
    }

    @Test("the auth file maps a verified certificate's common name to its principal and roles")
    func certificatePrincipal() async throws {
        let authenticator = try Authenticator(
            authFileContents: Data(
                #"""
                {"tokens": [{"principal": "ops", "cert_cn": "admin.example", "roles": ["admin"]},
                            {"principal": "batch", "sha256": "\#(Authenticator.digest(of: "s3cret"))"}]}
                """#.utf8
            )
        )
        try await withTLSServer(mutual: true, authenticator: authenticator) { certificates, _, port in
            let admin = try await connect(port: port, tls: certificates.clientTLS(certificates.admin))
            #expect(admin.hello.principal == "ops")
            #expect(admin.hello.roles == ["admin"])
            await admin.close()

            // A certificate the CA signed but the auth file does not list names nobody.
            let error = await #expect(throws: LeaseholdError.self) {
                try await connect(port: port, tls: certificates.clientTLS(certificates.other))
            }
            #expect(error?.code == .unauthenticated)
            #expect(error?.message.contains("other.example") == true, "\(error?.message ?? "")")

            // A token still works over mutual TLS, and decides the principal.
            let batch = try await connect(port: port, token: "s3cret", tls: certificates.clientTLS(certificates.admin))
            #expect(batch.hello.principal == "batch")
            await batch.close()
        }
    }

    @Test("reloading swaps the certificate for new connections and keeps open ones")
    func reload() async throws {
        try await withTLSServer { certificates, server, port in
            let before = try await connect(port: port, tls: certificates.clientTLS())
            // The renewed certificate comes from another CA, so that which one a connection got is visible.
            let renewed = try certificates.strangerCA.issue("renewed", commonName: "localhost", server: true)
            try FileManager.default.removeItem(atPath: certificates.server.certificate)
            try FileManager.default.removeItem(atPath: certificates.server.key)
            try FileManager.default.copyItem(atPath: renewed.certificate, toPath: certificates.server.certificate)
            try FileManager.default.copyItem(atPath: renewed.key, toPath: certificates.server.key)
            try server.reloadTLS()

            let answer: ForceReleaseRequest = try await before.unary(
                TestService.echo,
                ForceReleaseRequest(key: "still-open", reason: "")
            )
            #expect(answer.key == "still-open")
            let renewedCA = ClientTLSConfiguration(caPath: certificates.strangerCA.caCertificate)
            await #expect(throws: LeaseholdError.self) { try await connect(port: port, tls: certificates.clientTLS()) }
            let after = try await connect(port: port, tls: renewedCA)
            #expect(before.isActive)
            await after.close()
            await before.close()

            // A broken file is refused and the server keeps what it had.
            try "not a key".write(toFile: certificates.server.key, atomically: true, encoding: .utf8)
            #expect(throws: TLSFileError.self) { try server.reloadTLS() }
            let still = try await connect(port: port, tls: renewedCA)
            await still.close()
        }
    }

    @Test("unusable TLS files stop the server from starting, naming the file")
    func badFiles() async throws {
        let folder = try TemporaryDirectory("leasehold-tls")
        defer { folder.remove() }
        try "nothing".write(toFile: folder.file("cert.pem"), atomically: true, encoding: .utf8)
        var configuration = RPCServer.Configuration(host: "127.0.0.1", port: 0)
        configuration.tls = ServerTLSConfiguration(
            certificatePath: folder.file("cert.pem"),
            privateKeyPath: folder.file("missing.key")
        )
        let server = RPCServer(configuration: configuration, services: [], logger: Logger(label: "test"))
        let error = await #expect(throws: TLSFileError.self) { try await server.start() }
        #expect(error?.path == folder.file("cert.pem"))
        await server.stop()
    }

    @Test("the server's TLS flags: none is plaintext, a certificate needs its key, a client CA needs both")
    func flags() throws {
        #expect(try ServerTLSConfiguration(flags: nil, nil, clientCA: nil) == nil)
        let mutual = try ServerTLSConfiguration(flags: "c.pem", "k.pem", clientCA: "ca.pem")
        #expect(
            mutual == ServerTLSConfiguration(certificatePath: "c.pem", privateKeyPath: "k.pem", clientCAPath: "ca.pem")
        )
        #expect(mutual?.requiresClientCertificate == true)
        #expect(throws: TLSFlagError("--tls-cert and --tls-key go together")) {
            try ServerTLSConfiguration(flags: "c.pem", nil, clientCA: nil)
        }
        #expect(throws: TLSFlagError("--tls-cert and --tls-key go together")) {
            try ServerTLSConfiguration(flags: nil, "k.pem", clientCA: nil)
        }
        #expect(throws: TLSFlagError("--tls-client-ca needs --tls-cert and --tls-key")) {
            try ServerTLSConfiguration(flags: nil, nil, clientCA: "ca.pem")
        }
    }
}
