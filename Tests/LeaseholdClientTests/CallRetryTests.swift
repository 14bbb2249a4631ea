import LeaseholdClient
import LeaseholdRPC
import LeaseholdWire
import Logging
import NIOCore
import Synchronization
import Testing

/// Which calls the client sends a second time when the first one's answer is lost.
@Suite("Client call retries")
struct CallRetryTests {
    /// A server whose `ForceRelease` and `Describe` never answer, counting how often each arrives.
    private final class Silent: RPCService {
        let arrivals = Mutex<[String: Int]>([:])

        var methods: [RPCMethod] {
            [
                .unaryCallback(LeaseholdMethod.forceRelease) { _, _, _ in
                    self.arrivals.withLock { $0["ForceRelease", default: 0] += 1 }
                    return nil
                },
                .unaryCallback(LeaseholdMethod.describe) { _, _, _ in
                    self.arrivals.withLock { $0["Describe", default: 0] += 1 }
                    return nil
                },
            ]
        }
    }

    @Test("a ForceRelease whose answer is lost is not sent again (it could release the next holder); a query is")
    func forceReleaseIsSentOnce() async throws {
        let silent = Silent()
        var logger = Logger(label: "leasehold.test.silent")
        logger.logLevel = .warning
        let server = RPCServer(
            configuration: RPCServer.Configuration(host: "127.0.0.1", port: 0),
            services: [silent],
            logger: logger
        )
        let address = try await server.start()
        var configuration = LeaseholdClient.Configuration(host: "127.0.0.1", port: address.port!)
        configuration.callTimeout = .milliseconds(200)
        let client = try await LeaseholdClient.connect(configuration)

        await #expect(throws: LeaseholdError.self) { _ = try await client.forceRelease("k", reason: "test") }
        await #expect(throws: LeaseholdError.self) { _ = try await client.describe("k") }
        #expect(silent.arrivals.withLock { $0 } == ["ForceRelease": 1, "Describe": 2])

        await client.close()
        await server.stop()
    }
}
