import Foundation
import LeaseholdClient
import LeaseholdCore
import LeaseholdLinearizability
import LeaseholdRPC
import LeaseholdTestSupport
import LeaseholdTestUtilities
import LeaseholdWire
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Clients given both nodes' addresses, across a failover: two `leasehold serve` processes on one PostgreSQL
/// database (a real cluster, started by the tests) with a 1 s leader lease; the active one is SIGKILLed, or cut off
/// from the database by a proxy.
@Suite("Clients across a failover", .serialized, .timeLimit(.minutes(2)))
struct ClientFailoverTests {
    /// Two nodes on one database; A is active and B a standby that names A.
    struct Pair {
        let directory: TemporaryDirectory
        let a: ServerProcess
        let b: ServerProcess
        let endpoints: [LeaseholdClient.Endpoint]

        /// `--server` for the CLI.
        var serverList: String { self.endpoints.map(\.description).joined(separator: ",") }

        /// A client configuration with both addresses, A first.
        var configuration: LeaseholdClient.Configuration {
            LeaseholdClient.Configuration(endpoints: self.endpoints, callTimeout: .seconds(5))
        }

        /// Starts A (with its own store URL when given, such as one through a proxy), waits until it is active,
        /// then starts B and waits until B refuses `Hello` naming A.
        static func start(
            _ name: String,
            storeForA: ((String) -> String)? = nil,
            argumentsForB: [String] = []
        ) async throws -> Pair {
            let cluster = try await PostgresTestCluster.shared()
            let url = try await cluster.createDatabase()
            let directory = try TemporaryDirectory("leasehold-\(name)")
            let (portA, portB) = (try PostgresTestCluster.freePort(), try PostgresTestCluster.freePort())
            let a = try await ServerProcess.postgresNode("a", store: storeForA?(url) ?? url, port: portA, in: directory)
            do {
                try await a.waitUntilActive()
                let b = try await ServerProcess.postgresNode(
                    "b",
                    store: url,
                    port: portB,
                    in: directory,
                    arguments: argumentsForB
                )
                let pair = Pair(
                    directory: directory,
                    a: a,
                    b: b,
                    endpoints: [.init(host: "127.0.0.1", port: portA), .init(host: "127.0.0.1", port: portB)]
                )
                do {
                    try await pair.waitUntilRefused(port: portB, naming: "127.0.0.1:\(portA)")
                } catch {
                    b.killIfRunning()
                    throw error
                }
                return pair
            } catch {
                a.killIfRunning()
                directory.remove()
                throw error
            }
        }

        /// Kills both nodes and removes the folder (logs are kept when the test failed, as its comments say).
        func finish(keepingLogs: Bool = false) {
            self.a.killIfRunning()
            self.b.killIfRunning()
            if keepingLogs {
                print("ClientFailoverTests: logs kept in \(self.directory.path)")
            } else {
                self.directory.remove()
            }
        }

        /// Kills A with SIGKILL, waits for its exit and for B to say it is active.
        func killA() async throws {
            self.a.process.send(SIGKILL)
            _ = try await self.a.process.waitForExit(timeout: .seconds(30))
            try await self.b.waitUntilActive()
        }

        /// Asks `Hello` until the node refuses it naming `leader`; at most 50 tries, 100 ms apart.
        func waitUntilRefused(port: Int, naming leader: String) async throws {
            var last: LeaseholdError?
            for _ in 0..<50 {
                last = await Self.refusal(port: port)
                if let last, last.leader == leader { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw ChildProcess.Failure("Hello at \(port) never named \(leader); last: \(String(describing: last))")
        }

        /// What `Hello` answers at `port`: nil when it succeeds.
        static func refusal(port: Int, timeout: Duration = .seconds(5)) async -> LeaseholdError? {
            await leaseholdError {
                let connection = try await RPCConnection.connect(
                    host: "127.0.0.1",
                    port: port,
                    hello: HelloRequest(),
                    connectTimeout: timeout
                )
                await connection.close()
            }
        }
    }

    // MARK: - Watch

    @Test("a watcher given both addresses gets every event exactly once, in order, across a SIGKILL of the active")
    func watcherAcrossFailover() async throws {
        let pair = try await Pair.start("failover-watch")
        var passed = false
        defer { pair.finish(keepingLogs: !passed) }

        let watching = try await LeaseholdClient.connect(pair.configuration)
        let writing = try await LeaseholdClient.connect(pair.configuration)
        let session = try await writing.openSession(ttl: .seconds(10))
        let seen = Mutex<[Event]>([])
        let watch = Task {
            for try await event in watching.watch(prefix: "w/", from: 1) {
                seen.withLock { $0.append(event) }
            }
        }
        defer { watch.cancel() }

        /// Grants and releases on three keys; a call cut by the kill is retried by the client on the new active.
        func churn(_ rounds: Int) async throws {
            for round in 0..<rounds {
                let lock = try await session.acquire("w/\(round % 3)", wait: .seconds(5))
                _ = try? await lock.release()
            }
        }

        try await churn(15)
        try await eventually(within: .seconds(10), "the watcher saw the first events") {
            seen.withLock { $0.count } >= 20
        }
        let killedAfter = try await writing.describe("w/0").revision
        let churning = Task { try await churn(30) }
        try await pair.killA()
        try await churning.value
        let final = try await writing.describe("w/0").revision
        #expect(final > killedAfter + 30, "grants and releases were made on the new active")
        try await eventually(within: .seconds(15), "the watcher reached revision \(final)") {
            (seen.withLock { $0.last?.revision } ?? 0) >= final
        }
        watch.cancel()

        // What the new active has, from revision 1, read by a fresh client.
        let reader = try await LeaseholdClient.connect(pair.configuration)
        var reference: [Event] = []
        for try await event in reader.watch(prefix: "w/", from: 1) {
            reference.append(event)
            if event.revision >= final { break }
        }
        let events = seen.withLock { $0 }.filter { $0.revision <= final }
        #expect(events.map(\.revision) == Array(1...final), "no gap and no duplicate")
        #expect(events == reference, "the same events the new active has")
        try? await session.close()
        await reader.close()
        await writing.close()
        await watching.close()
        passed = events == reference && events.map(\.revision) == Array(1...final)
    }

    // MARK: - leasehold lock

    @Test("leasehold lock --server A,B keeps its command running through a failover and releases on the new active")
    func lockCommandAcrossFailover() async throws {
        let metricsPort = try PostgresTestCluster.freePort()
        let pair = try await Pair.start(
            "failover-lock",
            argumentsForB: ["--metrics-listen", "127.0.0.1:\(metricsPort)"]
        )
        var passed = false
        defer { pair.finish(keepingLogs: !passed) }

        // The command runs until the test creates its stop file (at most 60 s).
        let stopFile = pair.directory.file("stop")
        let script = """
            echo "token=$LEASEHOLD_FENCING_TOKEN"
            i=0
            while [ ! -e "$0" ]; do i=$((i+1)); [ $i -gt 1200 ] && exit 3; sleep 0.05; done
            echo done
            """
        let lock = try ChildProcess(
            "leasehold",
            ["lock", "--server", pair.serverList, "jobs/1", "--", "sh", "-c", script, stopFile],
            in: pair.directory
        )
        defer { lock.killIfRunning() }
        let token = try await lock.firstLine(of: .standardOutput, within: .seconds(15), saying: "its token") {
            $0.hasPrefix("token=") ? UInt64($0.dropFirst("token=".count)) : nil
        }

        try await pair.killA()
        // The session is resumed on B: B counts a successful ResumeSession.
        let resumed = #"leasehold_rpc_calls_total{method="ResumeSession",code="OK"}"#
        try await eventually(within: .seconds(15), "ResumeSession on the new active") {
            ((try? MetricsScrape.fetch(port: metricsPort))?[resumed] ?? 0) >= 1
        }
        #expect(!lock.hasExited, "the command still runs: \(lock.standardError)")
        let held = try await LeaseholdClient.connect(endpoints: pair.endpoints).describe("jobs/1")
        #expect(held.lock?.fencingToken == token, "the same grant, loaded by the new active")

        FileManager.default.createFile(atPath: stopFile, contents: nil)
        let status = try await lock.exitStatus(within: .seconds(15))
        #expect(status == 0, "stderr: \(lock.standardError)")
        #expect(lock.outputLines == ["token=\(token)", "done"])
        #expect(!lock.standardError.contains("lost the lock"), "\(lock.standardError)")
        let after = try await LeaseholdClient.connect(endpoints: pair.endpoints).describe("jobs/1")
        #expect(!after.held, "released on the new active")
        passed = status == 0 && !after.held
    }

    // MARK: - Cut off from PostgreSQL

    @Test("an active cut off from PostgreSQL stops answering before the standby takes over, and clients follow")
    func activeCutOffFromDatabase() async throws {
        let cluster = try await PostgresTestCluster.shared()
        let proxy = try TCPProxy(upstreamPort: cluster.port)
        defer { proxy.stop() }
        let pair = try await Pair.start("failover-cut") { url in
            url.replacingOccurrences(of: "@\(cluster.host):\(cluster.port)/", with: "@127.0.0.1:\(proxy.port)/")
        }
        var passed = false
        defer { pair.finish(keepingLogs: !passed) }
        let (portA, portB) = (pair.a.port, pair.b.port)

        let client = try await LeaseholdClient.connect(pair.configuration)
        defer { Task { await client.close() } }
        let session = try await client.openSession(ttl: .seconds(10))
        let lock = try await session.acquire("jobs/1", wait: .zero)
        let raw = try await RawSession.open(.init(host: "127.0.0.1", port: portA), ttl: .seconds(10))

        let origin = ContinuousClock.now
        // A: the receive time of its last answered keepalive.
        let answering = Task { () -> (last: Duration?, error: LeaseholdError?) in
            var last: Duration?
            for _ in 0..<4_000 {
                do {
                    _ = try await raw.keepAlive()
                    last = ContinuousClock.now - origin
                } catch {
                    return (last, error as? LeaseholdError)
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return (last, nil)
        }
        // B: the send time of its last refused Hello; B took over after it.
        let takingOver = Task { () -> Duration? in
            var lastRefusalSent: Duration?
            for _ in 0..<4_000 {
                let sent = ContinuousClock.now - origin
                guard await Pair.refusal(port: portB, timeout: .seconds(2)) != nil else { return lastRefusalSent }
                lastRefusalSent = sent
                try? await Task.sleep(for: .milliseconds(5))
            }
            return nil
        }
        _ = try await raw.keepAlive()
        let cutAt = ContinuousClock.now - origin
        proxy.cut()

        let (lastAnswer, stopError) = await answering.value
        let lastRefusal = await takingOver.value
        try await pair.b.waitUntilActive()
        let answered = try #require(lastAnswer, "A answered keepalives before the cut")
        let refused = try #require(lastRefusal, "B refused Hello before it took over, and then served")
        print(
            "ClientFailoverTests: cut at \(cutAt); A's last answer received at \(answered); "
                + "B's last refusal sent at \(refused)"
        )
        #expect(stopError != nil, "A stopped answering")
        #expect(answered < refused, "A's last answer (\(answered)) came before B could take over (\(refused))")
        #expect(refused > cutAt)
        #expect(pair.a.logTail.contains("stepped down"), "\(pair.a.logTail)")
        #expect(!pair.a.process.hasExited, "A is still running, as a standby")
        #expect(await Pair.refusal(port: portA)?.code == .unavailable)

        // The client followed: its session resumed on B with its lock and token, and B grants above it.
        let again = try await session.acquire("jobs/1", wait: .zero)
        #expect(again.fencingToken == lock.fencingToken)
        let next = try await session.acquire("jobs/2", wait: .zero)
        #expect(next.fencingToken > lock.fencingToken)
        #expect(session.state != .expired)
        try await session.close()
        await raw.close()
        passed = answered < refused
    }

    // MARK: - Load

    @Test(
        "clients under load across a SIGKILL of the active: every key's history is linearizable and its tokens strictly increase"
    )
    func loadAcrossFailover() async throws {
        let pair = try await Pair.start("failover-load")
        var passed = false
        defer { pair.finish(keepingLogs: !passed) }

        let keys = ["k/0", "k/1", "k/2"]
        let clients = 4
        let recorder = LockHistoryRecorder()
        // The client library retries a call cut by the kill on the new active, so a call without an answer may
        // have taken effect on either node: it is settled only once both are dead, at the end.
        let everyNode = 0
        let control = LoadControl()
        let configuration = pair.configuration

        let killedAt = try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<clients {
                group.addTask {
                    try await Self.loadClient(
                        index,
                        keys: keys,
                        configuration: configuration,
                        recorder: recorder,
                        control: control,
                        lostEpoch: everyNode
                    )
                }
            }
            try await eventually(within: .seconds(30), "200 operations before the kill") {
                control.done.load(ordering: .relaxed) >= 200
            }
            let killedAt = recorder.now
            try await pair.killA()
            let before = control.done.load(ordering: .relaxed)
            try await eventually(within: .seconds(30), "200 operations after the failover") {
                control.done.load(ordering: .relaxed) >= before + 200
            }
            control.stop.store(true, ordering: .relaxed)
            try await group.waitForAll()
            return killedAt
        }

        // The final state, through a fresh connection to the new active: every client released and closed.
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: pair.b.port, hello: HelloRequest())
        for key in keys {
            let invoked = recorder.now
            let description = try await connection.unary(LeaseholdMethod.describe, DescribeRequest(key: key))
            recorder.record(
                key,
                client: clients,
                .describe,
                invoked: invoked,
                .described(description.lock.map(LockHolder.init), revision: description.revision)
            )
            #expect(!description.held, "\(key) is still held: \(String(describing: description.lock))")
        }
        await connection.close()
        pair.b.process.send(SIGKILL)
        _ = try await pair.b.process.waitForExit(timeout: .seconds(30))
        recorder.epochEnded(everyNode)

        let histories = recorder.histories
        let summary = LinearizabilityChecker().check(histories: histories)
        print("ClientFailoverTests: \(control.done.load(ordering: .relaxed)) operations; \(summary)")
        for failure in summary.failures.prefix(10) {
            Issue.record(Comment(rawValue: failure))
        }
        #expect(summary.tokenViolations.isEmpty)

        // Grants on both sides of the kill, and no token ever given to two sessions.
        var grantsAfter = 0
        var owners: [String: [UInt64: UInt64]] = [:]
        for (key, history) in histories {
            for operation in history {
                guard case .answered(.granted(let token), _) = operation.outcome,
                    case .acquire(let session) = operation.call
                else { continue }
                if operation.invoked > killedAt { grantsAfter += 1 }
                let owner = owners[key, default: [:]][token]
                #expect(owner == nil || owner == session, "\(key): token \(token) granted to two sessions")
                owners[key, default: [:]][token] = session
            }
        }
        let grantsBefore = owners.values.reduce(0) { $0 + $1.count } - grantsAfter
        #expect(grantsBefore > 0 && grantsAfter > 0, "grants before (\(grantsBefore)) and after (\(grantsAfter))")
        passed = summary.isLinearizable && summary.tokenViolations.isEmpty
        if !passed {
            for (key, history) in histories {
                let file = pair.directory.file("history-\(key.replacingOccurrences(of: "/", with: "-")).txt")
                let lines = history.sorted { $0.invoked < $1.invoked }.map(\.description)
                try? lines.joined(separator: "\n").write(toFile: file, atomically: false, encoding: .utf8)
            }
        }
    }

    /// One client: try-locks and releases on `keys` (a pseudo-random walk) until `stop`, each recorded; then it
    /// releases what it holds and closes its session.
    private static func loadClient(
        _ index: Int,
        keys: [String],
        configuration: LeaseholdClient.Configuration,
        recorder: LockHistoryRecorder,
        control: LoadControl,
        lostEpoch: Int
    ) async throws {
        let client = try await LeaseholdClient.connect(configuration)
        let session = try await client.openSession(ttl: .seconds(10))
        let sessionID = session.id.rawValue
        var random = SplitMix64(seed: UInt64(index) &+ 0x5EED)
        var held: [String: Lock] = [:]

        func release(_ key: String, _ lock: Lock) async {
            let call = LockOperation.Call.release(sessionID: sessionID, fencingToken: lock.fencingToken)
            let invoked = recorder.now
            do {
                let revision = try await lock.release()
                if revision > 0 {
                    recorder.record(key, client: index, call, invoked: invoked, .released(revision: revision))
                } else {
                    // Released, by a first attempt whose answer was lost: when is unknown.
                    recorder.recordLost(key, client: index, call, invoked: invoked, epoch: lostEpoch)
                }
            } catch let error as LeaseholdError where error.code == .notLockHolder {
                recorder.record(key, client: index, call, invoked: invoked, .notLockHolder)
            } catch {
                recorder.recordLost(key, client: index, call, invoked: invoked, epoch: lostEpoch)
            }
            held[key] = nil
        }

        for _ in 0..<2_000 where !control.stop.load(ordering: .relaxed) {
            let key = keys[Int(random.next() % UInt64(keys.count))]
            if let lock = held[key] {
                await release(key, lock)
            } else {
                let call = LockOperation.Call.acquire(sessionID: sessionID)
                let invoked = recorder.now
                do {
                    let lock = try await session.acquire(key, wait: .zero)
                    recorder.record(
                        key,
                        client: index,
                        call,
                        invoked: invoked,
                        .granted(fencingToken: lock.fencingToken)
                    )
                    held[key] = lock
                } catch let error as LeaseholdError where error.code == .lockHeld && error.holder != nil {
                    let holder = LockHolder(error.holder!)
                    recorder.record(key, client: index, call, invoked: invoked, .lockHeld(holder))
                } catch {
                    recorder.recordLost(key, client: index, call, invoked: invoked, epoch: lostEpoch)
                }
            }
            control.done.add(1, ordering: .relaxed)
        }
        for (key, lock) in held { await release(key, lock) }
        // Closing the session releases whatever it still holds, on every key.
        let call = LockOperation.Call.closeSession(sessionID: sessionID)
        let invoked = recorder.now
        let closed = (try? await session.close()) != nil
        for key in keys {
            if closed {
                recorder.record(key, client: index, call, invoked: invoked, .closed)
            } else {
                recorder.recordLost(key, client: index, call, invoked: invoked, epoch: lostEpoch)
            }
        }
        await client.close()
    }

    /// How far the load clients got, and when they should stop.
    final class LoadControl: Sendable {
        let done = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
    }
}

extension LockHolder {
    /// The holder a `LockInfo` names.
    fileprivate init(_ lock: LockInfo) {
        self.init(sessionID: lock.sessionID.rawValue, fencingToken: lock.fencingToken)
    }
}
