import LeaseholdClient
import LeaseholdCore
import LeaseholdRPC
import LeaseholdTestSupport
import LeaseholdTestUtilities
import LeaseholdWire
import Logging
import NIOCore
import Synchronization
import Testing

/// The client among several addresses, against a real server and a stand-in standby (an RPC server that refuses
/// every call, as a standby node does, naming the active node in `Status.leader`). Failover between real nodes is
/// in the end-to-end tests, on PostgreSQL.
@Suite("Client with several endpoints")
struct EndpointFollowingTests {
    /// Runs `body` with a stand-in standby that names `leader` (empty: no active node known).
    private static func withStandby<R>(
        naming leader: String,
        _ body: (LeaseholdClient.Endpoint) async throws -> R
    ) async throws -> R {
        try await Self.withStandby(naming: { _ in leader }, body)
    }

    /// Runs `body` with a stand-in standby whose refusal number `n` (from 1) names `leader(n)`.
    private static func withStandby<R>(
        naming leader: @escaping @Sendable (Int) -> String,
        _ body: (LeaseholdClient.Endpoint) async throws -> R
    ) async throws -> R {
        var configuration = RPCServer.Configuration(host: "127.0.0.1", port: 0)
        let refusals = Mutex(0)
        configuration.callRefusal = {
            let count = refusals.withLock { count in
                count += 1
                return count
            }
            return Status(code: .unavailable, message: "this node is a standby", leader: leader(count))
        }
        var logger = Logger(label: "leasehold.test.standby")
        logger.logLevel = .warning
        let standby = RPCServer(configuration: configuration, services: [], logger: logger)
        let address = try await standby.start()
        do {
            let result = try await body(.init(host: "127.0.0.1", port: address.port!))
            await standby.stop()
            return result
        } catch {
            await standby.stop()
            throw error
        }
    }

    @Test("a client given only a standby follows its pointer to the active server and works there")
    func followsTheStandbysPointer() async throws {
        try await withLeaseholdServer { _, server in
            try await Self.withStandby(naming: "127.0.0.1:\(server.port)") { standby in
                let client = try await LeaseholdClient.connect(endpoints: [standby], configuration: server)
                defer { Task { await client.close() } }
                let session = try await client.openSession(ttl: .seconds(10))
                let lock = try await session.acquire("jobs/1", wait: .zero)
                #expect(try await client.describe("jobs/1").lock?.fencingToken == lock.fencingToken)
                try await session.close()
            }
        }
    }

    @Test("a client skips an address nobody listens on and a standby that knows no active node")
    func skipsDeadAndUnknowing() async throws {
        try await withLeaseholdServer { _, server in
            try await Self.withStandby(naming: "") { standby in
                let dead = LeaseholdClient.Endpoint(host: "127.0.0.1", port: try PostgresTestCluster.freePort())
                let active = LeaseholdClient.Endpoint(host: "127.0.0.1", port: server.port)
                let client = try await LeaseholdClient.connect(
                    endpoints: [dead, standby, active],
                    configuration: server
                )
                defer { Task { await client.close() } }
                #expect(try await client.list().locks.isEmpty)
            }
        }
    }

    @Test("while no node is active, connect tries again with the back-off and succeeds once one is")
    func waitsForAnActiveNode() async throws {
        try await withLeaseholdServer { _, server in
            // The first three refusals know no active node (a failover in progress); then the server is named.
            let activeAddress = "127.0.0.1:\(server.port)"
            try await Self.withStandby(naming: { $0 <= 3 ? "" : activeAddress }) { standby in
                var configuration = server
                configuration.reconnectBackoff = (.milliseconds(1), .milliseconds(4))
                configuration.failoverTimeout = .seconds(30)
                let client = try await LeaseholdClient.connect(endpoints: [standby], configuration: configuration)
                defer { Task { await client.close() } }
                #expect(try await client.list().locks.isEmpty)
            }
        }
    }

    @Test("with a failover timeout of zero, connect makes one round and fails at once")
    func oneRoundWithoutFailoverTimeout() async throws {
        let refusals = Mutex(0)
        try await Self.withStandby(naming: { count in
            refusals.withLock { $0 = count }
            return ""
        }) { standby in
            var configuration = LeaseholdClient.Configuration()
            configuration.failoverTimeout = .zero
            await #expect(throws: LeaseholdError.self) {
                _ = try await LeaseholdClient.connect(endpoints: [standby], configuration: configuration)
            }
            #expect(refusals.withLock { $0 } == 1)
        }
    }

    @Test("when no address has an active node within the failover timeout, connect fails with UNAVAILABLE naming each")
    func noActiveNode() async throws {
        try await Self.withStandby(naming: "") { standby in
            let dead = LeaseholdClient.Endpoint(host: "127.0.0.1", port: try PostgresTestCluster.freePort())
            var configuration = LeaseholdClient.Configuration()
            configuration.reconnectBackoff = (.milliseconds(1), .milliseconds(4))
            configuration.failoverTimeout = .milliseconds(50)
            let error = await #expect(throws: LeaseholdError.self) {
                _ = try await LeaseholdClient.connect(endpoints: [standby, dead], configuration: configuration)
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("\(standby)") == true)
            #expect(error?.message.contains("\(dead)") == true)
            #expect(error?.message.contains("standby") == true)
        }
    }
}
