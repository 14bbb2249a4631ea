import FencedResource
import FencedResourceWire
import Foundation
import LeaseholdClient
import LeaseholdRPC
import LeaseholdTestSupport
import LeaseholdTestUtilities
import LeaseholdWire
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("The built fenced-resource and fencing-demo executables")
struct ExecutableTests {
    @Test("the highest token survives a SIGKILL and a restart on the same file", .timeLimit(.minutes(1)))
    func survivesSIGKILL() async throws {
        let directory = try TemporaryDirectory("fenced-resource-kill")
        defer { directory.remove() }
        let path = directory.file("fenced.db")

        let first = try await ServerProcess.start(
            .fencedResource,
            data: path,
            log: directory.file("serve-0.log"),
            timeout: .seconds(30)
        )
        defer { first.killIfRunning() }
        let client = try await FencedResourceClient.connect(host: "127.0.0.1", port: first.port)
        let written = try await client.write("orders/9", data: .utf8("five"), fencingToken: 5, lockKey: "")
        #expect(written.version == 1)
        await client.close()
        first.process.send(SIGKILL)
        #expect(try await first.process.waitForExit(timeout: .seconds(30)) == .signaled(SIGKILL))

        let second = try await ServerProcess.start(
            .fencedResource,
            data: path,
            log: directory.file("serve-1.log"),
            timeout: .seconds(30)
        )
        defer { second.killIfRunning() }
        let again = try await FencedResourceClient.connect(host: "127.0.0.1", port: second.port)
        let error = try await #require(throws: LeaseholdError.self) {
            try await again.write("orders/9", data: .utf8("four"), fencingToken: 4, lockKey: "")
        }
        #expect(error.code == .staleFencingToken)
        #expect(error.highestToken == 5)
        #expect(
            try await again.read("orders/9") == FencedReadResponse(data: .utf8("five"), version: 1, highestToken: 5)
        )
        await again.close()

        // SIGTERM is a graceful stop: the server logs it and exits 0.
        #expect(try await second.stop(timeout: .seconds(10)) == .exited(0))
    }

    @Test("fencing-demo refuses A's stale write and exits 0", .timeLimit(.minutes(1)))
    func demo() async throws {
        let directory = try TemporaryDirectory("fencing-demo")
        defer { directory.remove() }
        // stdout and stderr interleaved in one file, as a terminal shows them.
        let log = directory.file("fencing-demo.log")
        let child = try ChildProcess(
            executable: BuiltExecutable.path(named: "fencing-demo"),
            arguments: [],
            standardOutputPath: log,
            standardErrorPath: log
        )
        defer { child.killIfRunning() }
        let status = try? await child.waitForExit(timeout: .seconds(60))
        let output = child.standardOutput
        #expect(status == .exited(0), "fencing-demo output:\n\(output)")
        #expect(output.contains("STALE_FENCING_TOKEN"))
        #expect(output.contains("REFUSED"))
        #expect(!output.contains("ACCEPTED ("))
    }

    @Test("fenced-resource serves TLS and checks tokens with a mutual-TLS lock server", .timeLimit(.minutes(1)))
    func tls() async throws {
        let directory = try TemporaryDirectory("fenced-resource-tls")
        defer { directory.remove() }
        let ca = try TestCertificates(in: directory.path)
        let server = try ca.issue("server", commonName: "localhost", server: true)
        let resource = try ca.issue("resource", commonName: "fenced-resource.example")
        let writer = try ca.issue("writer", commonName: "writer.example")
        let auth =
            #"{"tokens": [{"principal": "fenced-resource", "cert_cn": "fenced-resource.example"},"#
            + #"{"principal": "writer", "cert_cn": "writer.example"}]}"#
        try auth.write(toFile: directory.file("auth.json"), atomically: true, encoding: .utf8)
        let lockServer = try await ServerProcess.start(
            .leasehold,
            in: directory,
            arguments: [
                "--tls-cert", server.certificate, "--tls-key", server.key, "--tls-client-ca", ca.caCertificate,
                "--auth-file", directory.file("auth.json"),
            ]
        )
        defer { lockServer.killIfRunning() }
        let fenced = try await ServerProcess.start(
            .fencedResource,
            data: directory.file("fenced.db"),
            log: directory.file("fenced.log"),
            arguments: [
                "--tls-cert", server.certificate, "--tls-key", server.key, "--lock-server", lockServer.address,
                "--tls-ca", ca.caCertificate, "--lock-server-tls-cert", resource.certificate,
                "--lock-server-tls-key", resource.key,
            ],
            timeout: .seconds(30)
        )
        defer { fenced.killIfRunning() }

        let tls = ClientTLSConfiguration(
            caPath: ca.caCertificate,
            certificatePath: writer.certificate,
            privateKeyPath: writer.key
        )
        let locks = try await LeaseholdClient.connect(.init(host: "127.0.0.1", port: lockServer.port, tls: tls))
        let session = try await locks.openSession(ttl: .seconds(30))
        let lock = try await session.acquire("orders/1")
        let connection = try await RPCConnection.connect(
            host: "127.0.0.1",
            port: fenced.port,
            hello: HelloRequest(),
            tls: ClientTLSConfiguration(caPath: ca.caCertificate)
        )
        let client = FencedResourceClient(connection: connection)
        // A token the resource has not seen is checked with the lock server, over mutual TLS.
        let written = try await client.write(
            "orders/1",
            data: .utf8("paid"),
            fencingToken: lock.fencingToken,
            lockKey: lock.key
        )
        #expect(written.version == 1)
        await client.close()
        _ = try await session.close()
        await locks.close()

        await #expect(throws: LeaseholdError.self) {
            try await FencedResourceClient.connect(host: "127.0.0.1", port: fenced.port)
        }
        #expect(try await fenced.stop(timeout: .seconds(10)) == .exited(0))
        #expect(try await lockServer.stop() == .exited(0))
    }

    @Test("--lock-server takes a list and validates with the address that answers", .timeLimit(.minutes(1)))
    func lockServerList() async throws {
        let directory = try TemporaryDirectory("fenced-resource-list")
        defer { directory.remove() }
        let closed = try await ServerProcess.start(.leasehold, in: directory)
        closed.killIfRunning()
        let lockServer = try await ServerProcess.start(.leasehold, in: directory)
        defer { lockServer.killIfRunning() }
        let resource = try await ServerProcess.start(
            .fencedResource,
            in: directory,
            arguments: ["--lock-server", "\(closed.address),\(lockServer.address)"]
        )
        defer { resource.killIfRunning() }

        let lockClient = try await LeaseholdClient.connect(endpoints: [.init(host: "127.0.0.1", port: lockServer.port)])
        let session = try await lockClient.openSession(ttl: .seconds(10))
        let lock = try await session.acquire("jobs/1", wait: .zero)
        let client = try await FencedResourceClient.connect(host: "127.0.0.1", port: resource.port)
        let written = try await client.write(
            "r",
            data: .utf8("one"),
            fencingToken: lock.fencingToken,
            lockKey: "jobs/1"
        )
        #expect(written.acceptedToken == lock.fencingToken)
        // A released grant, never seen by the resource: only the lock server can say it is stale.
        try await lock.release()
        let next = try await session.acquire("jobs/1", wait: .zero)
        try await next.release()
        let error = try await #require(throws: LeaseholdError.self) {
            try await client.write("r", data: .utf8("two"), fencingToken: next.fencingToken, lockKey: "jobs/1")
        }
        #expect(error.code == .staleFencingToken)
        await client.close()
        try await session.close()
        await lockClient.close()
    }
}
