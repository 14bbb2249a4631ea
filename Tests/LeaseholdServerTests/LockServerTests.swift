import Foundation
import LeaseholdClient
import LeaseholdCore
import LeaseholdRPC
import LeaseholdServer
import LeaseholdTestSupport
import LeaseholdTestUtilities
import LeaseholdWire
import Testing

@Suite("Lock server over loopback, time moved by hand")
struct LockServerTests {
    @Test("a holder without keepalives expires at its TTL, not before, and the waiter gets a higher token")
    func expiryHandsOver() async throws {
        let clock = ManualClock()
        try await withLeaseholdServer(clock: clock) { server, configuration in
            let holder = try await RawSession.open(configuration, ttl: .seconds(5))
            let waiter = try await RawSession.open(configuration, ttl: .seconds(60))
            defer {
                Task {
                    await holder.close(); await waiter.close()
                }
            }
            let held = try await holder.acquire("jobs/1")
            let granted = Task { try await waiter.acquire("jobs/1", wait: .seconds(30)) }
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            #expect(try await eventually { try await client.describe("jobs/1").waiters == 1 })

            clock.advance(by: .milliseconds(4_999))
            // The timer has run for the new time (it sleeps on the manual clock): nothing expired yet.
            #expect(await eventually { clock.sleeperCount > 0 })
            #expect(try await client.describe("jobs/1").lock?.sessionID == holder.id)

            clock.advance(by: .milliseconds(1))
            let lock = try await granted.value
            #expect(lock.sessionID == waiter.id)
            #expect(lock.fencingToken > held.fencingToken)
            await #expect(throws: LeaseholdError.self) { _ = try await holder.keepAlive() }
            _ = server
        }
    }

    @Test("keepalives hold a session past many TTLs")
    func keepAliveExtends() async throws {
        let clock = ManualClock()
        try await withLeaseholdServer(clock: clock) { _, configuration in
            let session = try await RawSession.open(configuration, ttl: .seconds(3))
            defer { Task { await session.close() } }
            _ = try await session.acquire("k")
            for _ in 0..<10 {
                clock.advance(by: .seconds(2))
                let answer = try await session.keepAlive()
                #expect(answer.ttl == .seconds(3))
            }
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            #expect(try await client.describe("k").lock?.sessionID == session.id)
        }
    }

    @Test("session expiry fails that session's own waits with SESSION_EXPIRED")
    func expiryFailsOwnWaits() async throws {
        let clock = ManualClock()
        try await withLeaseholdServer(clock: clock) { _, configuration in
            let holder = try await RawSession.open(configuration, ttl: .seconds(60))
            let waiter = try await RawSession.open(configuration, ttl: .seconds(2))
            defer {
                Task {
                    await holder.close(); await waiter.close()
                }
            }
            _ = try await holder.acquire("k")
            let wait = Task { await leaseholdError { _ = try await waiter.acquire("k", wait: .seconds(30)) } }
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            #expect(try await eventually { try await client.describe("k").waiters == 1 })
            clock.advance(by: .seconds(2))
            #expect(await wait.value?.code == .sessionExpired)
            #expect(try await client.describe("k").waiters == 0)
        }
    }

    @Test("a wait that runs out gets DEADLINE_EXCEEDED and leaves the queue to the others")
    func waitTimesOut() async throws {
        let clock = ManualClock()
        try await withLeaseholdServer(clock: clock) { _, configuration in
            let holder = try await RawSession.open(configuration, ttl: .seconds(60))
            let first = try await RawSession.open(configuration, ttl: .seconds(60))
            let second = try await RawSession.open(configuration, ttl: .seconds(60))
            defer {
                Task {
                    await holder.close(); await first.close(); await second.close()
                }
            }
            let held = try await holder.acquire("k")
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            let short = Task { await leaseholdError { _ = try await first.acquire("k", wait: .seconds(1)) } }
            #expect(try await eventually { try await client.describe("k").waiters == 1 })
            let long = Task { try await second.acquire("k", wait: .seconds(30)) }
            #expect(try await eventually { try await client.describe("k").waiters == 2 })
            clock.advance(by: .seconds(1))
            #expect(await short.value?.code == .deadlineExceeded)
            let queue = try await client.describe("k").queue
            #expect(queue.map(\.sessionID) == [second.id])
            _ = try await holder.release(held)
            #expect(try await long.value.sessionID == second.id)
        }
    }

    @Test("with a lock delay, an expired key is not granted again until the delay has passed")
    func lockDelay() async throws {
        let clock = ManualClock()
        try await withLeaseholdServer(configure: { $0.locks.lockDelay = .seconds(5) }, clock: clock) {
            _,
            configuration in
            let holder = try await RawSession.open(configuration, ttl: .seconds(2))
            let other = try await RawSession.open(configuration, ttl: .seconds(120))
            defer {
                Task {
                    await holder.close(); await other.close()
                }
            }
            _ = try await holder.acquire("k")
            clock.advance(by: .seconds(2))  // the holder expires; the delay starts
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            #expect(try await eventually { try await client.describe("k").held == false })
            let tryLock = await leaseholdError { _ = try await other.acquire("k") }
            #expect(tryLock?.code == .lockHeld)
            #expect(tryLock?.holder == nil)
            #expect(tryLock?.message.contains("lock delay") == true)
            let waiting = Task { try await other.acquire("k", wait: .seconds(60)) }
            #expect(try await eventually { try await client.describe("k").waiters == 1 })
            clock.advance(by: .seconds(5))
            #expect(try await waiting.value.sessionID == other.id)
        }
    }
}

@Suite("Lock server rules over loopback")
struct LockServerRuleTests {
    @Test("session-bound calls on another connection are refused; a wrong secret is refused; the right one resumes")
    func sessionBinding() async throws {
        try await withLeaseholdServer { _, configuration in
            let owner = try await RawSession.open(configuration)
            let intruder = try await RPCConnection.connect(
                host: configuration.host,
                port: configuration.port,
                hello: HelloRequest()
            )
            defer {
                Task {
                    await owner.close(); await intruder.close()
                }
            }
            let lock = try await owner.acquire("k")
            for call in [
                {
                    let _: KeepAliveResponse = try await intruder.unary(
                        LeaseholdMethod.keepAlive,
                        KeepAliveRequest(sessionID: owner.id)
                    )
                },
                {
                    let _: ReleaseResponse = try await intruder.unary(
                        LeaseholdMethod.release,
                        ReleaseRequest(sessionID: owner.id, key: "k", fencingToken: lock.fencingToken)
                    )
                },
                {
                    let _: AcquireResponse = try await intruder.unary(
                        LeaseholdMethod.acquire,
                        AcquireRequest(sessionID: owner.id, key: "other", wait: .zero)
                    )
                },
            ] {
                #expect(await leaseholdError(call)?.code == .permissionDenied)
            }
            var wrong = owner.info.secret
            wrong[0] ^= 0xFF
            let refused = await leaseholdError {
                let _: SessionInfo = try await intruder.unary(
                    LeaseholdMethod.resumeSession,
                    ResumeSessionRequest(sessionID: owner.id, secret: wrong)
                )
            }
            #expect(refused?.code == .permissionDenied)
            let resumed: SessionInfo = try await intruder.unary(
                LeaseholdMethod.resumeSession,
                ResumeSessionRequest(sessionID: owner.id, secret: owner.info.secret)
            )
            #expect(resumed.locks.map(\.key) == ["k"])
            #expect(resumed.secret.isEmpty)
            // The session moved: the old connection may no longer act for it.
            #expect(await leaseholdError { _ = try await owner.keepAlive() }?.code == .permissionDenied)
            let released: ReleaseResponse = try await intruder.unary(
                LeaseholdMethod.release,
                ReleaseRequest(sessionID: owner.id, key: "k", fencingToken: lock.fencingToken)
            )
            #expect(released.revision > lock.fencingToken)
        }
    }

    @Test("release with a wrong token or by a non-holder gets NOT_LOCK_HOLDER")
    func releaseChecks() async throws {
        try await withLeaseholdServer { _, configuration in
            let holder = try await RawSession.open(configuration)
            let other = try await RawSession.open(configuration)
            defer {
                Task {
                    await holder.close(); await other.close()
                }
            }
            let lock = try await holder.acquire("k")
            let wrongToken = LockInfo(
                key: lock.key,
                sessionID: lock.sessionID,
                fencingToken: lock.fencingToken + 1,
                owner: lock.owner,
                acquiredAt: lock.acquiredAt,
                sessionTTL: lock.sessionTTL
            )
            #expect(await leaseholdError { _ = try await holder.release(wrongToken) }?.code == .notLockHolder)
            let byOther = await leaseholdError {
                let _: ReleaseResponse = try await other.connection.unary(
                    LeaseholdMethod.release,
                    ReleaseRequest(sessionID: other.id, key: "k", fencingToken: lock.fencingToken)
                )
            }
            #expect(byOther?.code == .notLockHolder)
            #expect(try await holder.release(lock) == lock.fencingToken + 1)
        }
    }

    @Test("try-lock on a held key gets LOCK_HELD with the holder; re-acquire by the holder returns the same token")
    func tryLockAndIdempotence() async throws {
        try await withLeaseholdServer { _, configuration in
            let holder = try await RawSession.open(configuration)
            let other = try await RawSession.open(configuration)
            defer {
                Task {
                    await holder.close(); await other.close()
                }
            }
            let lock = try await holder.acquire("k")
            let error = await leaseholdError { _ = try await other.acquire("k") }
            #expect(error?.code == .lockHeld)
            #expect(error?.holder?.sessionID == holder.id)
            #expect(error?.holder?.fencingToken == lock.fencingToken)
            #expect(try await holder.acquire("k") == lock)
        }
    }

    @Test("invalid keys and TTLs get INVALID_ARGUMENT", arguments: ["", String(repeating: "k", count: 513)])
    func invalidKey(key: String) async throws {
        try await withLeaseholdServer { _, configuration in
            let session = try await RawSession.open(configuration)
            defer { Task { await session.close() } }
            #expect(await leaseholdError { _ = try await session.acquire(key) }?.code == .invalidArgument)
            for ttl in [Duration.milliseconds(999), .seconds(301)] {
                do {
                    let _: SessionInfo = try await session.connection.unary(
                        LeaseholdMethod.openSession,
                        OpenSessionRequest(ttl: ttl)
                    )
                    Issue.record("ttl \(ttl) was accepted")
                } catch let error as LeaseholdError {
                    #expect(error.code == .invalidArgument)
                }
            }
        }
    }

    @Test("the session limit gets RESOURCE_EXHAUSTED")
    func sessionLimit() async throws {
        try await withLeaseholdServer(configure: { $0.locks.maxSessions = 2 }) { _, configuration in
            let first = try await RawSession.open(configuration)
            let second = try await RawSession.open(configuration)
            defer {
                Task {
                    await first.close(); await second.close()
                }
            }
            let error = await leaseholdError { _ = try await RawSession.open(configuration) }
            #expect(error?.code == .resourceExhausted)
        }
    }

    @Test("force-release needs the role admin; the next grant's token is higher; the holder's session lives on")
    func forceRelease() async throws {
        let digest = Authenticator.digest(of: "admin-token")
        let userDigest = Authenticator.digest(of: "user-token")
        let file =
            #"{"tokens": [{"principal": "ops", "sha256": "\#(digest)", "roles": ["admin"]}, {"principal": "worker", "sha256": "\#(userDigest)"}]}"#
        let authenticator = try Authenticator(authFileContents: Data(file.utf8))
        try await withLeaseholdServer(configure: { $0.authenticator = authenticator }) { _, configuration in
            var userConfiguration = configuration
            userConfiguration.token = "user-token"
            var adminConfiguration = configuration
            adminConfiguration.token = "admin-token"
            let user = try await LeaseholdClient.connect(userConfiguration)
            let admin = try await LeaseholdClient.connect(adminConfiguration)
            defer {
                Task {
                    await user.close(); await admin.close()
                }
            }
            let session = try await user.openSession(ttl: .seconds(10))
            let lock = try await session.acquire("k", wait: .zero)
            #expect(lock.info.owner == "worker")
            #expect(
                await leaseholdError { _ = try await user.forceRelease("k", reason: "test") }?.code == .permissionDenied
            )
            let forced = try await admin.forceRelease("k", reason: "stuck job")
            #expect(forced.released?.fencingToken == lock.fencingToken)
            #expect(await leaseholdError { _ = try await admin.forceRelease("k", reason: "again") }?.code == .notFound)
            #expect(session.state == .connected)
            let again = try await session.acquire("k", wait: .zero)
            #expect(again.fencingToken > forced.revision)
            try await session.close()
        }
    }

    @Test("Describe shows the FIFO queue in grant order; Validate and List answer from the current state")
    func queries() async throws {
        try await withLeaseholdServer { _, configuration in
            let holder = try await RawSession.open(configuration)
            let waiters = [try await RawSession.open(configuration), try await RawSession.open(configuration)]
            defer {
                Task {
                    await holder.close(); for waiter in waiters { await waiter.close() }
                }
            }
            let lock = try await holder.acquire("a/1")
            _ = try await holder.acquire("a/2")
            _ = try await holder.acquire("b/1")
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            var tasks: [Task<LockInfo, any Error>] = []
            for waiter in waiters {
                tasks.append(Task { try await waiter.acquire("a/1", wait: .seconds(30)) })
                let count = tasks.count
                #expect(try await eventually { try await client.describe("a/1").waiters == UInt32(count) })
            }
            let description = try await client.describe("a/1")
            #expect(description.held && description.lock?.sessionID == holder.id)
            #expect(description.queue.map(\.sessionID) == waiters.map(\.id))
            #expect(try await client.validate("a/1", fencingToken: lock.fencingToken).valid)
            #expect(try await client.validate("a/1", fencingToken: lock.fencingToken + 100).valid == false)
            #expect(try await client.list(prefix: "a/").locks.map(\.key) == ["a/1", "a/2"])
            #expect(try await client.list(prefix: "", limit: 1).locks.map(\.key) == ["a/1"])
            #expect(try await client.describe("free").held == false)
            _ = try await holder.release(lock)
            #expect(try await tasks[0].value.sessionID == waiters[0].id)
            #expect(try await client.validate("a/1", fencingToken: lock.fencingToken).valid == false)
            tasks[1].cancel()
        }
    }

    @Test("state survives a clean restart: sessions resume, locks are held, tokens keep rising")
    func restart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var lastToken: UInt64 = 0
        var secret: [UInt8] = []
        var sessionID = SessionID(0)
        try await withLeaseholdServer(configure: { $0.dataPath = directory.file("l.db") }) { _, configuration in
            let session = try await RawSession.open(configuration, ttl: .seconds(30))
            lastToken = try await session.acquire("k").fencingToken
            secret = session.info.secret
            sessionID = session.id
            await session.close()
        }
        try await withLeaseholdServer(configure: { $0.dataPath = directory.file("l.db") }) { _, configuration in
            let connection = try await RPCConnection.connect(
                host: configuration.host,
                port: configuration.port,
                hello: HelloRequest()
            )
            defer { Task { await connection.close() } }
            let resumed: SessionInfo = try await connection.unary(
                LeaseholdMethod.resumeSession,
                ResumeSessionRequest(sessionID: sessionID, secret: secret)
            )
            #expect(resumed.locks.map(\.fencingToken) == [lastToken])
            let other = try await RawSession.open(configuration)
            defer { Task { await other.close() } }
            #expect(try await other.acquire("k2").fencingToken > lastToken)
        }
    }
}
