import Foundation
import LeaseholdClient
import LeaseholdTestSupport
import LeaseholdTestUtilities
import Synchronization
import Testing

extension EndToEndTests {
    /// The client library's `Session` against a built `leasehold serve` that is frozen with SIGSTOP.
    @Suite("Session with a frozen server")
    struct SessionFreezeTests {
        @Test("a session whose server freezes reports jeopardy, then expired at confirmedUntil, not after its timeouts")
        func expiresAtConfirmedUntil() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let server = try await ServerProcess.start(.leasehold, in: directory)
            defer { server.killIfRunning() }
            // A connect timeout well past the TTL: a reconnect to the frozen server waits for all of it (the kernel
            // accepts the connection, nobody answers Hello), so an expiry noticed only by the keepalive loop comes
            // seconds late.
            let configuration = LeaseholdClient.Configuration(
                host: "127.0.0.1",
                port: server.port,
                clientName: "freeze",
                connectTimeout: .seconds(8),
                callTimeout: .seconds(8),
                reconnectBackoff: (.milliseconds(20), .milliseconds(200))
            )
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            let session = try await client.openSession(ttl: .seconds(2))
            _ = try await session.acquire("leader", wait: .zero)

            let seen = Mutex<[(Session.State, ContinuousClock.Instant)]>([])
            let watcher = Task {
                for await state in session.states { seen.withLock { $0.append((state, .now)) } }
            }
            defer { watcher.cancel() }

            // SIGSTOP keeps the connection open while nothing answers.
            server.process.send(SIGSTOP)
            defer { server.process.send(SIGCONT) }
            // The watcher task records the state when it gets to run, which may be after `session.state` changed.
            try await eventually(within: .seconds(15), "the session to report expired") {
                seen.withLock { $0.contains { $0.0 == .expired } }
            }
            // The last keepalive that succeeded may have been answered just before the freeze: read the deadline
            // once nothing can move it any more.
            let confirmedUntil = session.confirmedUntil

            let states = seen.withLock { $0 }
            let expiredAt = try #require(states.first { $0.0 == .expired }?.1)
            #expect(expiredAt >= confirmedUntil, "expired \(confirmedUntil - expiredAt) before confirmedUntil")
            #expect(
                expiredAt - confirmedUntil < .seconds(1),
                "expired \(expiredAt - confirmedUntil) after confirmedUntil"
            )
            #expect(states.map(\.0).contains(.jeopardy), "states: \(states.map(\.0))")

            server.process.send(SIGCONT)
            #expect(try await server.stop() == .exited(0))
        }
    }
}
