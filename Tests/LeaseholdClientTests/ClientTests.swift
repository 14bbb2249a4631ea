import LeaseholdClient
import LeaseholdCore
import LeaseholdRPC
import LeaseholdServer
import LeaseholdTestSupport
import LeaseholdTestUtilities
import LeaseholdWire
import Synchronization
import Testing

@Suite("Client library against a real server")
struct ClientTests {
    @Test("two clients contend for a key: the second gets it when the first releases, with a higher token")
    func contention() async throws {
        try await withLeaseholdServer { _, configuration in
            let first = try await LeaseholdClient.connect(configuration)
            let second = try await LeaseholdClient.connect(configuration)
            defer {
                Task {
                    await first.close(); await second.close()
                }
            }
            let a = try await first.openSession(ttl: .seconds(10))
            let b = try await second.openSession(ttl: .seconds(10))
            let lock = try await a.acquire("jobs/7", wait: .zero)
            let refused = await #expect(throws: LeaseholdError.self) { _ = try await b.acquire("jobs/7", wait: .zero) }
            #expect(refused?.code == .lockHeld)
            #expect(refused?.holder?.sessionID == a.id)
            let waiting = Task { try await b.acquire("jobs/7", wait: .seconds(30)) }
            #expect(try await eventually { try await first.describe("jobs/7").waiters == 1 })
            try await lock.release()
            let next = try await waiting.value
            #expect(next.fencingToken > lock.fencingToken)
            try await a.close()
            try await b.close()
        }
    }

    @Test("withLock releases when the body throws, and when it returns")
    func withLockReleases() async throws {
        struct Boom: Error {}
        try await withLeaseholdServer { _, configuration in
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            let session = try await client.openSession()
            await #expect(throws: Boom.self) {
                try await session.withLock("k") { _ in throw Boom() }
            }
            #expect(try await client.describe("k").held == false)
            let token = try await session.withLock("k") { lock in lock.fencingToken }
            #expect(token > 0)
            #expect(try await client.describe("k").held == false)
            try await session.close()
        }
    }

    @Test("a holder that stops its keepalives loses the lock to the waiter within TTL + 1 s")
    func holderStopsKeepalives() async throws {
        try await withLeaseholdServer { _, configuration in
            // The holder's process "stops": a raw session whose keepalives are never sent.
            let connection = try await RPCConnection.connect(
                host: configuration.host,
                port: configuration.port,
                hello: HelloRequest()
            )
            defer { Task { await connection.close() } }
            // Timed by the server's own grant times (LockInfo.acquiredAt) against the wall clock it shares with this
            // test, so that this task waiting its turn among the other tests moves no figure.
            var lastSign: WallTime
            var held: LockInfo
            var attempts = 0
            while true {
                // The server's deadline for the holder is at least TTL after this (Acquire does not extend it).
                lastSign = SystemLeaseClock().now().wall
                let holder: SessionInfo = try await connection.unary(
                    LeaseholdMethod.openSession,
                    OpenSessionRequest(ttl: .seconds(2))
                )
                do {
                    let response: AcquireResponse = try await connection.unary(
                        LeaseholdMethod.acquire,
                        AcquireRequest(sessionID: holder.sessionID, key: "leader", wait: .zero)
                    )
                    held = try #require(response.lock)
                    break
                } catch let error as LeaseholdError where error.code == .notFound && attempts < 2 {
                    // This task was not run for the whole TTL between the two calls: the session is gone already.
                    attempts += 1
                }
            }

            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            let waiter = try await client.openSession(ttl: .seconds(10))
            let lock = try await waiter.acquire("leader", wait: .seconds(10))
            #expect(lock.fencingToken > held.fencingToken)
            let handedOver = lock.info.acquiredAt
            #expect(
                handedOver >= lastSign + .seconds(2),
                "handed over before the TTL: \(handedOver) < \(lastSign) + 2 s"
            )
            #expect(
                handedOver < held.acquiredAt + .seconds(3),
                "handed over at \(handedOver), more than TTL + 1 s after the grant at \(held.acquiredAt)"
            )
            try await waiter.close()
        }
    }

    @Test("after the server cuts the connection, the session resumes and still holds its lock")
    func resumeAfterCut() async throws {
        try await withLeaseholdServer { server, configuration in
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            let session = try await client.openSession(ttl: .seconds(3))
            let lock = try await session.acquire("k", wait: .zero)
            let states = Mutex<[Session.State]>([])
            let watcher = Task { for await state in session.states { states.withLock { $0.append(state) } } }
            let cutAt = ContinuousClock.now
            server.dropClientConnections()
            // The session resumes on a new connection and its keepalives go on there: wait until one sent a whole
            // keepalive period (TTL/3) after the cut has been answered.
            try await eventually(within: .seconds(10), "a keepalive answered a period after the cut") {
                session.confirmedUntil >= cutAt + .seconds(3) + .seconds(1)
            }
            #expect(session.state == .connected || session.state == .safe)
            let observer = try await LeaseholdClient.connect(configuration)
            defer { Task { await observer.close() } }
            #expect(try await observer.describe("k").lock?.sessionID == session.id)
            // The same grant comes back on re-acquire, and release works on the new connection.
            #expect(try await session.acquire("k", wait: .zero).fencingToken == lock.fencingToken)
            try await lock.release()
            #expect(try await observer.describe("k").held == false)
            try await session.close()
            watcher.cancel()
            #expect(!states.withLock { $0.contains(.expired) })
        }
    }

    @Test("a session whose connection drops resumes at once, not at its next keepalive a third of its TTL later")
    func resumesAtOnceAfterCut() async throws {
        try await withLeaseholdServer { server, configuration in
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            // Keepalives every 100 s: without an early wake-up nothing would be sent within this test's bounds.
            let session = try await client.openSession(ttl: .seconds(300))
            let lock = try await session.acquire("k", wait: .zero)
            let cutAt = ContinuousClock.now
            server.dropClientConnections()
            try await eventually(within: .seconds(20), "the session was resumed on a new connection") {
                session.confirmedUntil > cutAt + .seconds(300)
            }
            let observer = try await LeaseholdClient.connect(configuration)
            defer { Task { await observer.close() } }
            #expect(try await observer.describe("k").lock?.fencingToken == lock.fencingToken)
            try await session.close()
        }
    }

    @Test("a wait fails with SESSION_EXPIRED when its own session dies")
    func waitFailsWhenSessionExpires() async throws {
        let clock = ManualClock()
        try await withLeaseholdServer(clock: clock) { _, configuration in
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            let holder = try await client.openSession(ttl: .seconds(60))
            _ = try await holder.acquire("k", wait: .zero)
            let waiter = try await client.openSession(ttl: .seconds(3))
            let wait = Task { () -> LeaseholdError? in
                do {
                    _ = try await waiter.acquire("k", wait: .seconds(30))
                    return nil
                } catch let error as LeaseholdError {
                    return error
                }
            }
            #expect(try await eventually { try await client.describe("k").waiters == 1 })
            // Server time jumps past the waiter's TTL before its next keepalive (sent every 1 s of real time).
            clock.advance(by: .seconds(3))
            let failure = try #require(await wait.value)
            #expect(failure.code == .sessionExpired)
            #expect(await eventually { waiter.state == .expired })
        }
    }
}

@Suite("Watch")
struct WatchTests {
    /// Makes `count` changes on `key` (acquire and release pairs); returns the revisions they produced.
    private func churn(_ session: Session, key: String, pairs: Int) async throws -> [UInt64] {
        var revisions: [UInt64] = []
        for _ in 0..<pairs {
            let lock = try await session.acquire(key, wait: .zero)
            revisions.append(lock.fencingToken)
            revisions.append(try await lock.release())
        }
        return revisions
    }

    @Test("a watcher started after 50 changes from revision 1 sees all 50, then the live ones, in order")
    func historyThenLive() async throws {
        try await withLeaseholdServer { _, configuration in
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            let session = try await client.openSession()
            let before = try await self.churn(session, key: "jobs/a", pairs: 25)
            #expect(before == Array(1...50))
            var iterator = client.watch(prefix: "jobs/", from: 1).makeAsyncIterator()
            var seen: [Event] = []
            for _ in 0..<50 { seen.append(try #require(try await iterator.next())) }
            #expect(seen.map(\.revision) == Array(1...50))
            #expect(seen.first?.kind == .acquired && seen.dropFirst().first?.kind == .released)
            let after = try await self.churn(session, key: "jobs/b", pairs: 5)
            for revision in after { #expect(try await iterator.next()?.revision == revision) }
            try await session.close()
        }
    }

    @Test("a watcher cut off in the middle of a burst and resumed misses nothing and repeats nothing")
    func resumeAcrossCuts() async throws {
        try await withLeaseholdServer { server, configuration in
            let writer = try await LeaseholdClient.connect(configuration)
            let reader = try await LeaseholdClient.connect(configuration)
            defer {
                Task {
                    await writer.close(); await reader.close()
                }
            }
            let session = try await writer.openSession(ttl: .seconds(10))
            let first = try await self.churn(session, key: "w/k", pairs: 1)
            let stream = reader.watch(prefix: "w/", from: first[0])
            let burst = Task { try await self.churn(session, key: "w/k", pairs: 150) }
            var seen: [UInt64] = []
            for try await event in stream {
                seen.append(event.revision)
                if seen.count == 60 || seen.count == 180 { server.dropClientConnections() }
                if seen.count == 302 { break }
            }
            _ = try await burst.value
            // Every change is on one key, so the revisions the server made are exactly 1...302.
            #expect(seen == Array(1...302))
        }
    }

    @Test("with retention 10, a watch from revision 1 gets COMPACTED with the oldest kept revision")
    func compacted() async throws {
        try await withLeaseholdServer(configure: { $0.eventRetention = 10 }) { _, configuration in
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            let session = try await client.openSession()
            _ = try await self.churn(session, key: "c", pairs: 20)
            var caught: LeaseholdError?
            // Pruning runs on the store's writer after commits: wait until it has caught up.
            let compactedInTime = await eventually {
                do {
                    for try await _ in client.watch(prefix: "", from: 1) { break }
                    return false
                } catch let error as LeaseholdError {
                    caught = error
                    return error.code == .compacted && error.compactRevision == 31
                } catch {
                    return false
                }
            }
            #expect(compactedInTime)
            #expect(caught?.compactRevision == 31)
            // A watch from the compact revision itself succeeds.
            var iterator = client.watch(prefix: "", from: 31).makeAsyncIterator()
            #expect(try await iterator.next()?.revision == 31)
            try await session.close()
        }
    }

    @Test("session expiry shows up as one EXPIRED event per lock the session held")
    func expiryEvents() async throws {
        let clock = ManualClock()
        try await withLeaseholdServer(clock: clock) { _, configuration in
            let holder = try await RawSession.open(configuration, ttl: .seconds(5))
            defer { Task { await holder.close() } }
            let locks = [
                try await holder.acquire("e/1"), try await holder.acquire("e/2"), try await holder.acquire("e/3"),
            ]
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            var iterator = client.watch(prefix: "e/", from: locks[2].fencingToken + 1).makeAsyncIterator()
            clock.advance(by: .seconds(5))
            var expired: [Event] = []
            for _ in 0..<3 { expired.append(try #require(try await iterator.next())) }
            #expect(expired.allSatisfy { $0.kind == .expired && $0.sessionID == holder.id })
            #expect(Set(expired.map(\.key)) == ["e/1", "e/2", "e/3"])
            #expect(expired.map(\.revision) == [4, 5, 6])
            #expect(Set(expired.map(\.fencingToken)) == Set(locks.map(\.fencingToken)))
        }
    }

    @Test("a watcher that never reads is ended while a second watcher and the lock traffic carry on")
    func slowWatcherEnded() async throws {
        let limits: (inout LeaseholdServer.Configuration) -> Void = { configuration in
            configuration.rpcLimits.maxBufferedBytesPerStream = 64 << 10
            configuration.rpcLimits.socketSendBufferBytes = 16 << 10  // so the kernel cannot absorb the backlog
        }
        try await withLeaseholdServer(configure: limits) { _, configuration in
            let slow = try await SlowWatcher(port: configuration.port)
            defer { Task { await slow.close() } }
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            let session = try await client.openSession()
            var fast = client.watch(prefix: "", from: 1).makeAsyncIterator()
            // Big keys make big events, so the slow watcher's buffer fills in a few hundred changes.
            let key = "slow/" + String(repeating: "x", count: 400)
            var produced: [UInt64] = []
            for _ in 0..<600 {
                let lock = try await session.acquire(key, wait: .zero)
                produced.append(lock.fencingToken)
                produced.append(try await lock.release())
            }
            var received: [UInt64] = []
            while received.count < produced.count, let event = try await fast.next() { received.append(event.revision) }
            #expect(received == produced)
            #expect(await slow.finalStatus()?.code == .resourceExhausted)
            try await session.close()
        }
    }
}

/// A watcher over a raw connection that reads nothing until asked for its final status.
struct SlowWatcher {
    let client: RawFrames

    init(port: Int) async throws {
        self.client = try await RawFrames(port: port)
        try await self.client.helloThenWatch()
    }

    /// Starts reading and returns the watch call's final status.
    func finalStatus() async -> Status? {
        await self.client.drainUntilStatus(callID: 2)
    }

    func close() async { await self.client.close() }
}
