import Foundation
import LeaseholdTestSupport
import LeaseholdTestUtilities
import Testing

extension EndToEndTests {
    /// `leasehold serve` with TLS and mutual TLS, driven by the client commands' TLS options.
    @Suite("leasehold over TLS")
    struct TLSCommandTests {
        @Test("status and lock reach a TLS server with --tls-ca or LEASEHOLD_TLS_CA, and not without; SIGHUP reloads")
        func tlsServer() async throws {
            let directory = try TemporaryDirectory("e2e-tls")
            defer { directory.remove() }
            let ca = try TestCertificates(in: directory.path)
            let server = try ca.issue("server", commonName: "localhost", server: true)
            let process = try await ServerProcess.start(
                .leasehold,
                in: directory,
                arguments: ["--tls-cert", server.certificate, "--tls-key", server.key]
            )
            defer { process.killIfRunning() }

            let lock = try await leasehold(
                ["lock", "--server", process.address, "--tls-ca", ca.caCertificate, "jobs/1", "--", "true"],
                in: directory
            )
            #expect(lock.status == 0, "stderr: \(lock.standardError)")
            let status = try await leasehold(
                ["status", "jobs/1", "--server", process.address],
                environment: ["LEASEHOLD_TLS_CA": ca.caCertificate],
                in: directory
            )
            #expect(status.status == 0, "stderr: \(status.standardError)")
            #expect(status.standardOutput.contains("jobs/1"), "stdout: \(status.standardOutput)")

            let plaintext = try await leasehold(["status", "jobs/1", "--server", process.address], in: directory)
            #expect(plaintext.status == 69, "stderr: \(plaintext.standardError)")
            #expect(plaintext.standardError.contains("TLS"), "stderr: \(plaintext.standardError)")

            // SIGHUP reloads the certificate: the server lives on and serves new connections.
            process.process.send(SIGHUP)
            try await eventually(within: .seconds(20), "the reload to be logged") {
                (try? String(contentsOfFile: process.logPath, encoding: .utf8))?.contains("TLS certificate reloaded")
                    == true
            }
            let again = try await leasehold(
                ["status", "jobs/1", "--server", process.address, "--tls-ca", ca.caCertificate],
                in: directory
            )
            #expect(again.status == 0, "stderr: \(again.standardError)")
            #expect(try await process.stop() == .exited(0), "serve exits 0 on SIGTERM")
        }

        @Test("under mutual TLS a certificate's common name is a principal: admin may force-release, others not")
        func mutualTLSRoles() async throws {
            let directory = try TemporaryDirectory("e2e-tls")
            defer { directory.remove() }
            let ca = try TestCertificates(in: directory.path)
            let server = try ca.issue("server", commonName: "localhost", server: true)
            let admin = try ca.issue("admin", commonName: "ops.example")
            let worker = try ca.issue("worker", commonName: "worker.example")
            let authFile = directory.file("auth.json")
            try """
            {"tokens": [
              {"principal": "ops", "cert_cn": "ops.example", "roles": ["admin"]},
              {"principal": "worker", "cert_cn": "worker.example"}
            ]}
            """.write(toFile: authFile, atomically: true, encoding: .utf8)
            let process = try await ServerProcess.start(
                .leasehold,
                in: directory,
                arguments: [
                    "--tls-cert", server.certificate, "--tls-key", server.key, "--tls-client-ca", ca.caCertificate,
                    "--auth-file", authFile,
                ]
            )
            defer { process.killIfRunning() }
            func client(_ pair: TestCertificates.Pair) -> [String] {
                [
                    "--server", process.address, "--tls-ca", ca.caCertificate, "--tls-cert", pair.certificate,
                    "--tls-key", pair.key,
                ]
            }

            let noCertificate = try await leasehold(
                ["status", "jobs/1", "--server", process.address, "--tls-ca", ca.caCertificate],
                in: directory
            )
            #expect(noCertificate.status != 0, "stdout: \(noCertificate.standardOutput)")

            let holder = try ChildProcess(
                "leasehold",
                ["lock"] + client(worker) + ["jobs/1", "--", "sh", "-c", LockCommandTests.holdUntilReleased],
                environment: ["RELEASE_FILE": directory.file("release"), "MARKER_FILE": directory.file("marker")],
                in: directory
            )
            defer {
                _ = FileManager.default.createFile(atPath: directory.file("release"), contents: nil)
                holder.killIfRunning()
            }
            let token = try #require(UInt64(try await holder.outputLines(atLeast: 1)[0]))

            let denied = try await leasehold(
                ["release", "--force", "jobs/1", "--reason", "test"] + client(worker),
                in: directory
            )
            #expect(denied.status == 77, "worker: \(denied.standardError)")
            #expect(denied.standardError.hasPrefix("leasehold: permission denied"))

            let released = try await leasehold(
                ["release", "--force", "jobs/1", "--reason", "test"] + client(admin),
                in: directory
            )
            #expect(released.status == 0, "stderr: \(released.standardError)")
            #expect(released.standardOutput.contains("owner worker, token \(token)"))
            #expect(try await holder.exitStatus() == 2)
            #expect(try await process.stop() == .exited(0))
        }
    }
}
