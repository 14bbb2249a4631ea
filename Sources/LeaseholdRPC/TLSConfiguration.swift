public import NIOSSL

/// TLS on a server's RPC port: the server's certificate and key, and, for mutual TLS, the CA that signs clients'.
///
/// The files are PEM. TLS 1.2 is the oldest version offered. With ``clientCAPath`` every client must present a
/// certificate signed by that CA, and its subject common name can name a principal in the auth file (`cert_cn`).
///
/// ```swift
/// var configuration = RPCServer.Configuration(host: "0.0.0.0", port: 7420)
/// configuration.tls = ServerTLSConfiguration(certificatePath: "server.pem", privateKeyPath: "server.key")
/// ```
public struct ServerTLSConfiguration: Sendable, Hashable {
    /// The server's certificate chain (PEM), leaf first.
    public var certificatePath: String
    /// The server's private key (PEM).
    public var privateKeyPath: String
    /// The CA (PEM) that must have signed every client's certificate; nil for TLS without client certificates.
    public var clientCAPath: String?

    public init(certificatePath: String, privateKeyPath: String, clientCAPath: String? = nil) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.clientCAPath = clientCAPath
    }

    /// Whether clients must present a certificate (mutual TLS).
    public var requiresClientCertificate: Bool { self.clientCAPath != nil }

    /// The settings a server's `--tls-cert`, `--tls-key` and `--tls-client-ca` flags give: nil when none is
    /// given (plaintext).
    /// - Throws: ``TLSFlagError`` when they do not go together: a certificate without its key, or the reverse, or
    ///   a client CA without either.
    public init?(flags certificatePath: String?, _ privateKeyPath: String?, clientCA clientCAPath: String?) throws {
        switch (certificatePath, privateKeyPath) {
        case (nil, nil):
            guard clientCAPath == nil else { throw TLSFlagError("--tls-client-ca needs --tls-cert and --tls-key") }
            return nil
        case (let certificate?, let key?):
            self.init(certificatePath: certificate, privateKeyPath: key, clientCAPath: clientCAPath)
        default:
            throw TLSFlagError("--tls-cert and --tls-key go together")
        }
    }

    /// Reads the files and makes the context new connections handshake with.
    /// - Throws: ``TLSFileError`` naming the file that cannot be read or used.
    public func makeContext() throws -> NIOSSLContext {
        let chain = try TLSFileError.reading(self.certificatePath, "certificate") {
            try NIOSSLCertificate.fromPEMFile(self.certificatePath)
        }
        guard !chain.isEmpty else { throw TLSFileError(path: self.certificatePath, problem: "holds no certificate") }
        let key = try TLSFileError.reading(self.privateKeyPath, "private key") {
            try NIOSSLPrivateKey(file: self.privateKeyPath, format: .pem)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        if let clientCAPath = self.clientCAPath {
            let roots = try TLSFileError.reading(clientCAPath, "client CA") {
                try NIOSSLCertificate.fromPEMFile(clientCAPath)
            }
            guard !roots.isEmpty else { throw TLSFileError(path: clientCAPath, problem: "holds no certificate") }
            configuration.trustRoots = .certificates(roots)
            // Clients are known by their certificate, not by a host name.
            configuration.certificateVerification = .noHostnameVerification
        }
        return try TLSFileError.reading(self.certificatePath, "certificate and key") {
            try NIOSSLContext(configuration: configuration)
        }
    }
}

/// TLS on a client's connection: the CA that the server's certificate must chain to and, for servers that ask for
/// one, the client's own certificate and key.
///
/// The server's certificate must name the host connected to (a DNS name, or an IP address for an address).
///
/// ```swift
/// let tls = ClientTLSConfiguration(caPath: "ca.pem", certificatePath: "client.pem", privateKeyPath: "client.key")
/// ```
public struct ClientTLSConfiguration: Sendable, Hashable {
    /// The CA (PEM) to verify the server with; nil for the system's trust store.
    public var caPath: String?
    /// The client's certificate chain (PEM), for servers that require one (mutual TLS).
    public var certificatePath: String?
    /// The client's private key (PEM), with ``certificatePath``.
    public var privateKeyPath: String?

    public init(caPath: String? = nil, certificatePath: String? = nil, privateKeyPath: String? = nil) {
        self.caPath = caPath
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }

    /// Reads the files and makes the context a connection handshakes with.
    /// - Throws: ``TLSFileError`` naming the file that cannot be read or used, or when only one of
    ///   ``certificatePath`` and ``privateKeyPath`` is set.
    public func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let caPath = self.caPath {
            let roots = try TLSFileError.reading(caPath, "CA") { try NIOSSLCertificate.fromPEMFile(caPath) }
            guard !roots.isEmpty else { throw TLSFileError(path: caPath, problem: "holds no certificate") }
            configuration.trustRoots = .certificates(roots)
        }
        switch (self.certificatePath, self.privateKeyPath) {
        case (nil, nil):
            break
        case (let certificatePath?, let privateKeyPath?):
            let chain = try TLSFileError.reading(certificatePath, "certificate") {
                try NIOSSLCertificate.fromPEMFile(certificatePath)
            }
            let key = try TLSFileError.reading(privateKeyPath, "private key") {
                try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
            }
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        case (let path?, nil), (nil, let path?):
            throw TLSFileError(path: path, problem: "needs both a client certificate and its private key")
        }
        return try TLSFileError.reading(self.certificatePath ?? self.caPath ?? "", "TLS settings") {
            try NIOSSLContext(configuration: configuration)
        }
    }
}

/// A certificate, key or CA file that cannot be read or used.
public struct TLSFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file.
    public var path: String
    /// What is wrong with it.
    public var problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "TLS: \(self.path) \(self.problem)" }

    /// Runs `body`, turning its error into one that names `path` and what it should have held.
    static func reading<T>(_ path: String, _ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as TLSFileError {
            throw error
        } catch {
            throw TLSFileError(path: path, problem: "is not a usable \(what) (PEM): \(error)")
        }
    }
}

/// A server's TLS flags that do not go together.
public struct TLSFlagError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with them, naming the flags.
    public var description: String

    /// An error that says `description`.
    public init(_ description: String) {
        self.description = description
    }
}
