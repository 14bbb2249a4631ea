import Foundation

/// A throwaway certificate authority and the certificates it signs, made with the `openssl` command in a folder of
/// the caller's, for TLS tests. Keys are P-256; certificates are valid for two days from now.
///
/// ```swift
/// let folder = try TemporaryDirectory()
/// let ca = try TestCertificates(in: folder.path, name: "ca")
/// let server = try ca.issue("server", commonName: "localhost", server: true)
/// let client = try ca.issue("ops", commonName: "ops.example")
/// ```
public struct TestCertificates: Sendable {
    /// A certificate and its private key, PEM files.
    public struct Pair: Sendable {
        public var certificate: String
        public var key: String
    }

    /// The folder the files are written to.
    public let folder: String
    /// The CA's certificate (PEM): what clients and servers are told to trust.
    public let caCertificate: String
    private let caKey: String
    private let config: String

    /// Makes a new CA, `NAME.pem` and `NAME.key` in `folder`.
    /// - Throws: ``Failure`` when `openssl` fails or is missing.
    public init(in folder: String, name: String = "ca") throws {
        self.folder = folder
        self.caCertificate = folder + "/\(name).pem"
        self.caKey = folder + "/\(name).key"
        self.config = folder + "/\(name).cnf"
        try Self.configuration.write(toFile: self.config, atomically: true, encoding: .utf8)
        try self.openssl([
            "req", "-x509", "-config", self.config, "-extensions", "ca_ext", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", self.caKey, "-out", self.caCertificate, "-days", "2",
            "-subj", "/CN=Leasehold test CA \(name)",
        ])
    }

    /// Issues a certificate signed by this CA, `NAME.pem` and `NAME.key` in the folder.
    /// - Parameters:
    ///   - name: The files' name.
    ///   - commonName: The subject common name.
    ///   - server: A server certificate (for `localhost`, `127.0.0.1` and `::1`) rather than a client one.
    /// - Throws: ``Failure`` when `openssl` fails.
    public func issue(_ name: String, commonName: String, server: Bool = false) throws -> Pair {
        let pair = Pair(certificate: self.folder + "/\(name).pem", key: self.folder + "/\(name).key")
        let request = self.folder + "/\(name).csr"
        try self.openssl([
            "req", "-new", "-config", self.config, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", pair.key, "-out", request, "-subj", "/CN=\(commonName)",
        ])
        try self.openssl([
            "x509", "-req", "-in", request, "-CA", self.caCertificate, "-CAkey", self.caKey, "-set_serial",
            "0x" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(30), "-days", "2", "-out",
            pair.certificate, "-extfile", self.config, "-extensions", server ? "server_ext" : "client_ext",
        ])
        return pair
    }

    /// `openssl` failed.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs `openssl` to completion through ``Spawn`` (nothing of the test process leaks into it), its output in a
    /// file of the folder.
    private func openssl(_ arguments: [String]) throws {
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let executable = searchPath.split(separator: ":").map({ "\($0)/openssl" }).first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else {
            throw Failure(description: "openssl is not installed (scripts/install-deps.sh installs it)")
        }
        let log = self.folder + "/openssl-\(UUID().uuidString.prefix(8)).log"
        let child = try Spawn.start(executable, arguments, standardOutputPath: log, standardErrorPath: log)
        guard child.waitForExit() == .exited(0) else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw Failure(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(output)")
        }
    }

    /// The extensions of the CA, of servers and of clients.
    private static let configuration = """
        [req]
        distinguished_name = dn
        prompt = no
        [dn]
        [ca_ext]
        basicConstraints = critical,CA:TRUE
        keyUsage = critical,keyCertSign,cRLSign
        subjectKeyIdentifier = hash
        [server_ext]
        basicConstraints = CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = serverAuth
        subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
        authorityKeyIdentifier = keyid
        [client_ext]
        basicConstraints = CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = clientAuth
        authorityKeyIdentifier = keyid

        """
}
