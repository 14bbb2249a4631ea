import Foundation
import LeaseholdClient
import LeaseholdCore
import LeaseholdRPC
import LeaseholdTestSupport
import LeaseholdTestUtilities
import LeaseholdWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Two `leasehold serve` processes on one PostgreSQL database (a real cluster, started by the tests), with a
/// 1 s leader lease.
@Suite("Failover between two nodes on PostgreSQL")
struct FailoverTests {
    /// What `Hello` answers at `port`: nil when it succeeds.
    private static func callRefusal(port: Int) async -> LeaseholdError? {
        await leaseholdError {
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            await connection.close()
        }
    }

    @Test(
        "exactly one node is active; after SIGKILL the standby takes over, the session resumes with its lock and token, and the old node comes back as a standby"
    )
    func killTheActive() async throws {
        let cluster = try await PostgresTestCluster.shared()
        let url = try await cluster.createDatabase()
        let directory = try TemporaryDirectory("leasehold-failover")
        defer { directory.remove() }
        let (portA, portB) = (try PostgresTestCluster.freePort(), try PostgresTestCluster.freePort())

        var a = try await ServerProcess.postgresNode("a", store: url, port: portA, in: directory)
        defer { a.killIfRunning() }
        try await a.waitUntilActive()
        let b = try await ServerProcess.postgresNode("b", store: url, port: portB, in: directory)
        defer { b.killIfRunning() }

        // B is a standby and names A.
        let refused = try #require(await eventuallyRefused(port: portB, naming: "127.0.0.1:\(portA)"))
        #expect(refused.code == .unavailable)
        #expect(await Self.callRefusal(port: portA) == nil)

        let session = try await RawSession.open(.init(host: "127.0.0.1", port: portA), ttl: .seconds(10))
        let held = try await session.acquire("jobs/1")
        let secret = session.info.secret

        a.process.send(SIGKILL)
        _ = try await a.process.waitForExit(timeout: .seconds(30))
        try await b.waitUntilActive()

        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: portB, hello: HelloRequest())
        defer { Task { await connection.close() } }
        let resumed = try await connection.unary(
            LeaseholdMethod.resumeSession,
            ResumeSessionRequest(sessionID: session.id, secret: secret)
        )
        #expect(resumed.locks.map(\.key) == ["jobs/1"])
        #expect(resumed.locks.first?.fencingToken == held.fencingToken)
        let next = try await connection.unary(
            LeaseholdMethod.acquire,
            AcquireRequest(sessionID: session.id, key: "jobs/2", wait: .zero)
        )
        #expect(try #require(next.lock).fencingToken > held.fencingToken)
        // The grant made before the failover is still that session's: a try-lock by someone else is refused.
        let other = try await RawSession.open(.init(host: "127.0.0.1", port: portB), ttl: .seconds(10))
        let clash = await leaseholdError { _ = try await other.acquire("jobs/1") }
        #expect(clash?.code == .lockHeld)
        #expect(clash?.holder?.fencingToken == held.fencingToken)

        // The old node, restarted, is a standby that names the new active.
        a = try await ServerProcess.postgresNode("a2", store: url, port: portA, in: directory)
        let back = try #require(await eventuallyRefused(port: portA, naming: "127.0.0.1:\(portB)"))
        #expect(back.code == .unavailable)
        await other.close()
        await session.close()
    }

    @Test("an active paused past its lease answers nothing when it wakes, and its writes are refused")
    func pausedActive() async throws {
        let cluster = try await PostgresTestCluster.shared()
        let url = try await cluster.createDatabase()
        let directory = try TemporaryDirectory("leasehold-failover")
        defer { directory.remove() }
        let (portA, portB) = (try PostgresTestCluster.freePort(), try PostgresTestCluster.freePort())
        let a = try await ServerProcess.postgresNode("a", store: url, port: portA, in: directory)
        defer { a.killIfRunning() }
        try await a.waitUntilActive()
        let b = try await ServerProcess.postgresNode("b", store: url, port: portB, in: directory)
        defer { b.killIfRunning() }
        _ = try #require(await eventuallyRefused(port: portB, naming: "127.0.0.1:\(portA)"))

        let session = try await RawSession.open(.init(host: "127.0.0.1", port: portA), ttl: .seconds(10))
        let held = try await session.acquire("jobs/1")
        a.process.send(SIGSTOP)
        try await b.waitUntilActive()
        let other = try await RawSession.open(.init(host: "127.0.0.1", port: portB), ttl: .seconds(10))
        let clash = await leaseholdError { _ = try await other.acquire("jobs/1") }
        #expect(clash?.holder?.fencingToken == held.fencingToken)
        let taken = try await other.acquire("jobs/2")

        a.process.send(SIGCONT)
        // The first calls after waking: no keepalive is answered, no grant is made.
        let keepAlive = await leaseholdError { _ = try await session.keepAlive() }
        #expect(keepAlive != nil)
        let grant = await leaseholdError { _ = try await session.acquire("jobs/3") }
        #expect(grant != nil)
        // B still serves, and nothing was granted twice.
        let described = try await other.connection.unary(LeaseholdMethod.describe, DescribeRequest(key: "jobs/2"))
        #expect(described.lock?.fencingToken == taken.fencingToken)
        let third = await leaseholdError { _ = try await other.acquire("jobs/3") }
        #expect(third == nil)
        await other.close()
        await session.close()
    }

    /// Asks `Hello` until the node refuses it naming `leader` (a standby learns the leader on its first takeover
    /// attempt); at most 50 tries, 100 ms apart.
    private func eventuallyRefused(port: Int, naming leader: String) async -> LeaseholdError? {
        var last: LeaseholdError?
        for _ in 0..<50 {
            last = await Self.callRefusal(port: port)
            if let last, last.leader == leader { return last }
            try? await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("Hello at \(port) never named \(leader); last answer: \(String(describing: last))")
        return nil
    }
}
