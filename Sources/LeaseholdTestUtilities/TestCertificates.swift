import Foundation

/// A throwaway certificate authority and the certificates it signs, for TLS tests, made in a folder of the caller's
/// by `scripts/make-test-certs.sh` (the one recipe the Python tests and `bench/tls.sh` use too). Keys are P-256;
/// certificates are valid for two days from now.
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
    private let name: String

    /// Makes a new CA, `NAME.pem` and `NAME.key` in `folder` (or takes the one already there).
    /// - Throws: ``Failure`` when the script or `openssl` fails or is missing.
    public init(in folder: String, name: String = "ca") throws {
        self.folder = folder
        self.name = name
        self.caCertificate = folder + "/\(name).pem"
        try self.makeCertificates(["--ca", name])
    }

    /// Issues a certificate signed by this CA, `NAME.pem` and `NAME.key` in the folder.
    /// - Parameters:
    ///   - name: The files' name.
    ///   - commonName: The subject common name.
    ///   - server: A server certificate (for `localhost`, `127.0.0.1` and `::1`) rather than a client one.
    /// - Throws: ``Failure`` when the script or `openssl` fails.
    public func issue(_ name: String, commonName: String, server: Bool = false) throws -> Pair {
        try self.makeCertificates(["--ca", self.name, server ? "--server" : "--client", "\(name)=\(commonName)"])
        return Pair(certificate: self.folder + "/\(name).pem", key: self.folder + "/\(name).key")
    }

    /// The script or `openssl` failed.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs `scripts/make-test-certs.sh FOLDER ARGUMENTS` to completion through ``Spawn`` (nothing of the test
    /// process leaks into it), its output in a file of the folder, kept when it fails.
    private func makeCertificates(_ arguments: [String]) throws {
        let script = PackageRoot.path("scripts/make-test-certs.sh")
        let log = self.folder + "/make-test-certs-\(UUID().uuidString.prefix(8)).log"
        let child = try Spawn.start(
            "/bin/bash",
            [script, self.folder] + arguments,
            standardOutputPath: log,
            standardErrorPath: log
        )
        guard child.waitForExit() == .exited(0) else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw Failure(description: "\(script) \(arguments.joined(separator: " ")) failed: \(output)")
        }
        try? FileManager.default.removeItem(atPath: log)
    }
}
