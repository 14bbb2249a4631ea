import LeaseholdClient
import LeaseholdCore
import LeaseholdRPC
import LeaseholdTestSupport
import LeaseholdTestUtilities
import LeaseholdWire
import Logging
import NIOCore
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
        var configuration = RPCServer.Configuration(host: "127.0.0.1", port: 0)
        configuration.callRefusal = {
            Status(code: .unavailable, message: "this node is a standby", leader: leader)
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

    @Test("when no address has an active node, connect fails with UNAVAILABLE naming each address")
    func noActiveNode() async throws {
        try await Self.withStandby(naming: "") { standby in
            let dead = LeaseholdClient.Endpoint(host: "127.0.0.1", port: try PostgresTestCluster.freePort())
            let error = await #expect(throws: LeaseholdError.self) {
                _ = try await LeaseholdClient.connect(endpoints: [standby, dead])
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("\(standby)") == true)
            #expect(error?.message.contains("\(dead)") == true)
            #expect(error?.message.contains("standby") == true)
        }
    }
}
