import Foundation
import LeaseholdClient
import LeaseholdCore
import LeaseholdRPC
import LeaseholdServer
import LeaseholdTestSupport
import LeaseholdTestUtilities
import LeaseholdWire
import Logging
import NIOCore
import Testing

@Suite("Metrics at GET /metrics after a scripted workload, time moved by hand")
struct MetricsTests {
    static let adminToken = "admin-token"

    static func authenticator() throws -> Authenticator {
        let admin = Authenticator.digest(of: Self.adminToken)
        let worker = Authenticator.digest(of: "worker-token")
        let file = #"""
            {"tokens": [{"principal": "ops", "sha256": "\#(admin)", "roles": ["admin"]},
                        {"principal": "worker", "sha256": "\#(worker)"}]}
            """#
        return try Authenticator(authFileContents: Data(file.utf8))
    }

    static func configure(_ configuration: inout LeaseholdServer.Configuration) {
        configuration.metricsHost = "127.0.0.1"
        configuration.metricsPort = 0
        configuration.authenticator = try! Self.authenticator()
    }

    static func scrape(_ server: LeaseholdServer) throws -> MetricsScrape {
        try MetricsScrape.fetch(port: server.metricsAddress!.port!)
    }

    @Test("every metric is there with its type, and the values follow from the workload")
    func workload() async throws {
        let clock = ManualClock()
        try await withLeaseholdServer(configure: Self.configure, clock: clock) { server, configuration in
            var worker = configuration
            worker.token = "worker-token"
            var adminConfiguration = configuration
            adminConfiguration.token = Self.adminToken
            let admin = try await LeaseholdClient.connect(adminConfiguration)
            defer { Task { await admin.close() } }

            // A watcher.
            let watch = Task { for try await _ in admin.watch(prefix: "") {} }
            defer { watch.cancel() }
            #expect(await eventually { server.lockService?.snapshot.watchers == 1 })

            let holder = try await RawSession.open(worker, ttl: .seconds(60))
            let waiter = try await RawSession.open(worker, ttl: .seconds(60))
            let impatient = try await RawSession.open(worker, ttl: .seconds(60))
            let closer = try await RawSession.open(worker, ttl: .seconds(60))
            defer {
                Task {
                    await holder.close(); await waiter.close(); await impatient.close(); await closer.close()
                }
            }

            // A grant, a queued waiter, a refused try-lock, a wait that times out after one second.
            let held = try await holder.acquire("a")
            let queued = Task { try await waiter.acquire("a", wait: .seconds(30)) }
            #expect(try await eventually { try await admin.describe("a").waiters == 1 })
            #expect(await leaseholdError { _ = try await closer.acquire("a") }?.code == .lockHeld)
            let timedOut = Task { await leaseholdError { _ = try await impatient.acquire("a", wait: .seconds(1)) } }
            #expect(try await eventually { try await admin.describe("a").waiters == 2 })
            let during = try Self.scrape(server)
            #expect(during["leasehold_waiters"] == 2)
            #expect(during["leasehold_locks_held"] == 1)
            clock.advance(by: .seconds(1))
            #expect(await timedOut.value?.code == .deadlineExceeded)

            // A keepalive 1 s into a 60 s TTL: 59 s of margin.
            _ = try await holder.keepAlive()

            // A release hands the key to the waiter, who waited 1 s; the holder held it 1 s.
            _ = try await holder.release(held)
            let handed = try await queued.value
            #expect(handed.sessionID == waiter.id)

            // An expiry: a 2 s session holding "b" goes silent.
            let doomed = try await RawSession.open(worker, ttl: .seconds(2))
            defer { Task { await doomed.close() } }
            _ = try await doomed.acquire("b")
            clock.advance(by: .seconds(2))
            #expect(try await eventually { try await admin.describe("b").held == false })

            // A force-release of "a" (held 2 s by the waiter), and a session closed while holding "c".
            _ = try await admin.forceRelease("a", reason: "test")
            _ = try await closer.acquire("c")
            _ = try await closer.connection.unary(
                LeaseholdMethod.closeSession,
                CloseSessionRequest(sessionID: closer.id)
            )
            // A method the server does not serve counts as `other`.
            let unserved = MethodDescriptor<Empty, Empty>("leasehold.v1.Leasehold/Nothing")
            let refused = await leaseholdError { _ = try await holder.connection.unary(unserved, Empty()) }
            #expect(refused?.code == .unimplemented)

            let scrape = try Self.scrape(server)
            let types: [String: String] = [
                "leasehold_sessions": "gauge", "leasehold_locks_held": "gauge", "leasehold_waiters": "gauge",
                "leasehold_revision": "gauge", "leasehold_connections": "gauge", "leasehold_watchers": "gauge",
                "leasehold_leader": "gauge", "leasehold_epoch": "gauge",
                "leasehold_grants_total": "counter", "leasehold_releases_total": "counter",
                "leasehold_session_expiries_total": "counter", "leasehold_acquire_timeouts_total": "counter",
                "leasehold_lock_wait_seconds": "histogram", "leasehold_lock_hold_seconds": "histogram",
                "leasehold_keepalive_margin_seconds": "histogram", "leasehold_rpc_calls_total": "counter",
                "leasehold_rpc_duration_seconds": "histogram", "leasehold_store_commit_seconds": "histogram",
                "leasehold_store_batch_size": "histogram", "process_cpu_seconds_total": "counter",
                "process_resident_memory_bytes": "gauge", "process_open_fds": "gauge",
                "leasehold_connections_refused_total": "counter",
            ]
            for (name, type) in types {
                #expect(scrape.types[name] == type, "\(name) in:\n\(scrape.text)")
            }

            // Gauges: holder, waiter, impatient (three live sessions; doomed expired, closer closed); nothing held.
            #expect(scrape["leasehold_sessions"] == 3)
            #expect(scrape["leasehold_locks_held"] == 0)
            #expect(scrape["leasehold_waiters"] == 0)
            #expect(scrape["leasehold_watchers"] == 1)
            #expect(scrape["leasehold_leader"] == 1)
            // admin, holder, waiter, impatient, closer, doomed.
            #expect(scrape["leasehold_connections"] == 6)
            // Grants a, a (hand-over), b, c; releases a, b (expired), a (force), c (closed): eight events.
            #expect(scrape["leasehold_revision"] == 8)
            #expect(scrape["leasehold_grants_total"] == 4)
            #expect(scrape[#"leasehold_releases_total{cause="release"}"#] == 1)
            #expect(scrape[#"leasehold_releases_total{cause="expired"}"#] == 1)
            #expect(scrape[#"leasehold_releases_total{cause="force"}"#] == 1)
            #expect(scrape[#"leasehold_releases_total{cause="session_closed"}"#] == 1)
            #expect(scrape["leasehold_session_expiries_total"] == 1)
            #expect(scrape["leasehold_acquire_timeouts_total"] == 1)
            // No bound refused or cut a connection (ConnectionBoundsTests and TLSTests count each reason).
            for reason in ["max_connections", "hello_timeout", "frame_timeout", "tls_handshake"] {
                #expect(scrape["leasehold_connections_refused_total{reason=\"\(reason)\"}"] == 0)
            }

            // One wait ended in a grant, after exactly 1 s.
            #expect(scrape["leasehold_lock_wait_seconds_count"] == 1)
            #expect(scrape["leasehold_lock_wait_seconds_sum"] == 1)
            #expect(scrape[#"leasehold_lock_wait_seconds_bucket{le="0.5"}"#] == 0)
            #expect(scrape[#"leasehold_lock_wait_seconds_bucket{le="1.0"}"#] == 1)
            // Four holds: a 1 s, b 2 s, a 2 s (from the hand-over to the force-release), c 0 s.
            #expect(scrape["leasehold_lock_hold_seconds_count"] == 4)
            #expect(scrape["leasehold_lock_hold_seconds_sum"] == 5)
            #expect(scrape[#"leasehold_lock_hold_seconds_bucket{le="0.001"}"#] == 1)
            #expect(scrape[#"leasehold_lock_hold_seconds_bucket{le="1.0"}"#] == 2)
            #expect(scrape[#"leasehold_lock_hold_seconds_bucket{le="5.0"}"#] == 4)
            #expect(scrape[#"leasehold_lock_hold_seconds_bucket{le="+Inf"}"#] == 4)
            // One keepalive, with 59 s left.
            #expect(scrape["leasehold_keepalive_margin_seconds_count"] == 1)
            #expect(scrape["leasehold_keepalive_margin_seconds_sum"] == 59)
            #expect(scrape[#"leasehold_keepalive_margin_seconds_bucket{le="30.0"}"#] == 0)
            #expect(scrape[#"leasehold_keepalive_margin_seconds_bucket{le="60.0"}"#] == 1)

            // RPC calls by method and code.
            #expect(scrape[#"leasehold_rpc_calls_total{method="Hello",code="OK"}"#] == 6)
            #expect(scrape[#"leasehold_rpc_calls_total{method="OpenSession",code="OK"}"#] == 5)
            #expect(scrape[#"leasehold_rpc_calls_total{method="Acquire",code="OK"}"#] == 4)
            #expect(scrape[#"leasehold_rpc_calls_total{method="Acquire",code="LOCK_HELD"}"#] == 1)
            #expect(scrape[#"leasehold_rpc_calls_total{method="Acquire",code="DEADLINE_EXCEEDED"}"#] == 1)
            #expect(scrape[#"leasehold_rpc_calls_total{method="Release",code="OK"}"#] == 1)
            #expect(scrape[#"leasehold_rpc_calls_total{method="KeepAlive",code="OK"}"#] == 1)
            #expect(scrape[#"leasehold_rpc_calls_total{method="ForceRelease",code="OK"}"#] == 1)
            #expect(scrape[#"leasehold_rpc_calls_total{method="CloseSession",code="OK"}"#] == 1)
            #expect(scrape[#"leasehold_rpc_calls_total{method="other",code="UNIMPLEMENTED"}"#] == 1)
            #expect(scrape[#"leasehold_rpc_duration_seconds_count{method="Acquire"}"#] == 6)
            #expect(scrape[#"leasehold_rpc_duration_seconds_count{method="Watch"}"#] == nil, "the watch is still open")

            // The store committed every change; each transaction carried at least one batch.
            let transactions = try #require(scrape["leasehold_store_commit_seconds_count"])
            #expect(transactions >= 1)
            #expect(scrape["leasehold_store_batch_size_count"] == transactions)
            #expect(scrape[#"leasehold_store_batch_size_bucket{le="+Inf"}"#] == transactions)
            #expect(try #require(scrape["leasehold_store_batch_size_sum"]) >= transactions)

            #expect(try #require(scrape["process_resident_memory_bytes"]) > 0)
            #expect(try #require(scrape["process_open_fds"]) > 0)
            #expect(try #require(scrape["process_cpu_seconds_total"]) > 0)

            // Counters only go up between scrapes.
            let again = try Self.scrape(server)
            #expect(again["leasehold_grants_total"] == 4)
            #expect(try #require(again[#"leasehold_rpc_calls_total{method="Hello",code="OK"}"#]) == 6)
        }
    }

    @Test("after a restart the gauges match the reloaded state")
    func restart() async throws {
        let directory = try TemporaryDirectory("leasehold-metrics")
        defer { directory.remove() }
        var configuration = LeaseholdServer.Configuration()
        configuration.listenPort = 0
        configuration.dataPath = directory.file("leasehold.db")
        Self.configure(&configuration)
        var logger = Logger(label: "leasehold.test")
        logger.logLevel = .warning
        let clock = ManualClock()

        let first = LeaseholdServer(configuration: configuration, clock: clock, logger: logger)
        let address = try await first.start()
        var client = LeaseholdClient.Configuration(host: "127.0.0.1", port: address.port!, callTimeout: .seconds(10))
        client.token = "worker-token"
        let holder = try await RawSession.open(client, ttl: .seconds(60))
        let other = try await RawSession.open(client, ttl: .seconds(60))
        _ = try await holder.acquire("x")
        _ = try await holder.acquire("y")
        let lock = try await other.acquire("z")
        _ = try await other.release(lock)
        let queued = Task { await leaseholdError { _ = try await other.acquire("x", wait: .seconds(30)) } }
        #expect(await eventually { first.lockService?.snapshot.waiters == 1 })
        let before = try Self.scrape(first)
        #expect(before["leasehold_waiters"] == 1)
        await first.stop()
        _ = await queued.value
        await holder.close()
        await other.close()

        let second = LeaseholdServer(configuration: configuration, clock: clock, logger: logger)
        try await second.start()
        defer { Task { await second.stop() } }
        let after = try Self.scrape(second)
        #expect(after["leasehold_sessions"] == 2)
        #expect(after["leasehold_locks_held"] == 2)
        #expect(after["leasehold_waiters"] == 0, "waits are not durable")
        #expect(after["leasehold_revision"] == 4)
        #expect(after["leasehold_revision"] == before["leasehold_revision"])
        #expect(after["leasehold_connections"] == 0)
        #expect(after["leasehold_grants_total"] == 0, "counters start again at zero")
        await second.stop()
    }

    @Test("GET /sessions lists the live sessions soonest to expiry, with the time left on the server's clock")
    func sessionsClosestToExpiry() async throws {
        struct Answer: Decodable {
            struct Session: Decodable, Equatable {
                var session_id: UInt64
                var owner: String
                var name: String
                var ttl_ms: Int64
                var expires_in_ms: Int64
                var locks: [String]
            }
            var sessions: [Session]
        }
        let clock = ManualClock()
        try await withLeaseholdServer(configure: Self.configure, clock: clock) { server, configuration in
            var worker = configuration
            worker.token = "worker-token"
            let port = server.metricsAddress!.port!
            let long = try await RawSession.open(worker, ttl: .seconds(60))
            let short = try await RawSession.open(worker, ttl: .seconds(5))
            let middle = try await RawSession.open(worker, ttl: .seconds(10))
            defer {
                Task {
                    await long.close(); await short.close(); await middle.close()
                }
            }
            _ = try await short.acquire("jobs/1")
            _ = try await short.acquire("jobs/2")
            clock.advance(by: .seconds(2))
            _ = try await middle.keepAlive()  // due at 12 s now, after short's 5 s

            let (status, body) = try MetricsScrape.get("/sessions?limit=2", port: port)
            #expect(status == 200)
            let answer = try JSONDecoder().decode(Answer.self, from: Data(body.utf8))
            #expect(
                answer.sessions == [
                    .init(
                        session_id: short.id.rawValue,
                        owner: "worker",
                        name: "raw",
                        ttl_ms: 5_000,
                        expires_in_ms: 3_000,
                        locks: ["jobs/1", "jobs/2"]
                    ),
                    .init(
                        session_id: middle.id.rawValue,
                        owner: "worker",
                        name: "raw",
                        ttl_ms: 10_000,
                        expires_in_ms: 10_000,
                        locks: []
                    ),
                ]
            )
            // The default limit (10) takes all three; long is last with 58 s left.
            let all = try JSONDecoder().decode(
                Answer.self,
                from: Data(try MetricsScrape.get("/sessions", port: port).1.utf8)
            )
            #expect(all.sessions.map(\.session_id) == [short.id, middle.id, long.id].map(\.rawValue))
            #expect(all.sessions.last?.expires_in_ms == 58_000)

            #expect(try MetricsScrape.get("/sessions?limit=0", port: port).0 == 400)
            #expect(try MetricsScrape.get("/sessions?limit=x", port: port).0 == 400)
            #expect(try MetricsScrape.get("/nothing", port: port).0 == 404)
        }
    }

}
