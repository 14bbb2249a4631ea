import LeaseholdCore
import Testing

@Suite("LockTable expiry, lock delay and force-release")
struct LockTableExpiryTests {
    @Test("expiry releases the locks, hands them over, and fails the session's own waits")
    func expiryHandsOver() throws {
        var table = LockTable()
        let alice = table.open(ttl: .seconds(5), owner: "alice")
        let bob = table.open(ttl: .seconds(60), owner: "bob")
        let carol = table.open(ttl: .seconds(60), owner: "carol")
        let aliceLock = try #require(table.acquire(key: "k1", session: alice, wait: .zero, now: at(0)).0.lock)
        _ = table.acquire(key: "k2", session: bob, wait: .zero, now: at(0))
        let aliceWait = try #require(table.acquire(key: "k2", session: alice, wait: .seconds(30), now: at(0)).0.waiter)
        let carolWait = try #require(table.acquire(key: "k1", session: carol, wait: .seconds(30), now: at(0)).0.waiter)

        let effects = table.expire(now: at(5_000))

        let expired = Event(
            revision: 3,
            kind: .expired,
            key: "k1",
            sessionID: alice,
            fencingToken: aliceLock.fencingToken,
            owner: "alice",
            at: at(5_000).wall
        )
        let carolLock = LockInfo(
            key: "k1",
            sessionID: carol,
            fencingToken: 4,
            owner: "carol",
            acquiredAt: at(5_000).wall,
            sessionTTL: .seconds(60)
        )
        let acquired = Event(
            revision: 4,
            kind: .acquired,
            key: "k1",
            sessionID: carol,
            fencingToken: 4,
            owner: "carol",
            at: at(5_000).wall
        )
        #expect(
            effects == [
                .persist(.event(expired)), .persist(.event(acquired)), .grant(carolWait, carolLock),
                .fail(aliceWait, .sessionExpired), .persist(.removeSession(alice)),
            ]
        )
        #expect(table.describe(key: "k2").queue.isEmpty)
        #expect(table.describe(key: "k1").holder == carolLock)
    }

    @Test("things due at once are handled in time order: an expiry before a timeout hands the lock over")
    func timeOrder() throws {
        var table = LockTable()
        let alice = table.open(ttl: .seconds(5))
        let bob = table.open(ttl: .seconds(60))
        _ = table.acquire(key: "k", session: alice, wait: .zero, now: at(0))
        let bobWait = try #require(table.acquire(key: "k", session: bob, wait: .seconds(6), now: at(0)).0.waiter)
        // Both the expiry (5 s) and the wait timeout (6 s) are due at 7 s; the expiry came first.
        let effects = table.expire(now: at(7_000))
        #expect(effects.grants == [bobWait])
        #expect(effects.failures.isEmpty)
        #expect(table.describe(key: "k").holder?.sessionID == bob)
    }

    @Test("lock delay: try-locks see no holder, waiters are granted only when it ends")
    func lockDelay() throws {
        var table = LockTable(configuration: .init(lockDelay: .seconds(5)))
        let alice = table.open(ttl: .seconds(5))
        let bob = table.open(ttl: .seconds(60))
        let carol = table.open(ttl: .seconds(60))
        _ = table.acquire(key: "k", session: alice, wait: .zero, now: at(0))
        let bobWait = try #require(table.acquire(key: "k", session: bob, wait: .seconds(30), now: at(1_000)).0.waiter)

        let expiry = table.expire(now: at(5_000))
        #expect(expiry.events.map(\.kind) == [.expired])
        #expect(expiry.grants.isEmpty)
        #expect(table.describe(key: "k").holder == nil)
        #expect(
            table.acquire(key: "k", session: carol, wait: .zero, now: at(6_000)) == (
                .held(by: nil, delayedUntil: at(10_000)), []
            )
        )
        let carolWait = try #require(
            table.acquire(key: "k", session: carol, wait: .seconds(30), now: at(6_000)).0.waiter
        )
        #expect(table.describe(key: "k").queue.map(\.sessionID) == [bob, carol])
        #expect(try #require(table.nextDeadline) <= at(10_000))
        #expect(table.expire(now: at(9_999)).isEmpty)

        let end = table.expire(now: at(10_000))
        #expect(end.grants == [bobWait])
        let bobToken = try #require(table.describe(key: "k").holder?.fencingToken)

        // A clean release starts no delay.
        let release = table.release(key: "k", session: bob, fencingToken: bobToken, now: at(11_000)).1
        #expect(release.grants == [carolWait])
    }

    @Test("a finished lock delay that expire(now:) has not seen yet does not block an acquire, and FIFO holds")
    func lateDelayEnd() throws {
        var table = LockTable(configuration: .init(lockDelay: .seconds(1)))
        let alice = table.open(ttl: .seconds(60))
        let bob = table.open(ttl: .seconds(60))
        let carol = table.open(ttl: .seconds(60))
        _ = table.acquire(key: "k", session: alice, wait: .zero, now: at(0))
        _ = table.forceRelease(key: "k", now: at(0))
        let bobWait = try #require(table.acquire(key: "k", session: bob, wait: .seconds(30), now: at(10)).0.waiter)
        // The delay ended at 1 s; bob queued first, so he gets the key and carol sees it held.
        let (outcome, effects) = table.acquire(key: "k", session: carol, wait: .zero, now: at(2_000))
        #expect(effects.grants == [bobWait])
        #expect(outcome == .held(by: table.describe(key: "k").holder, delayedUntil: nil))
        #expect(table.describe(key: "k").holder?.sessionID == bob)
        // A lone free key after its delay is granted straight away.
        _ = table.forceRelease(key: "k", now: at(3_000))
        #expect(table.acquire(key: "k", session: carol, wait: .zero, now: at(4_000)).0.lock?.sessionID == carol)
    }

    @Test("force-release ends the lock, not the session, and the next grant has a higher token")
    func forceRelease() throws {
        var table = LockTable()
        let alice = table.open(owner: "alice")
        let bob = table.open(owner: "bob")
        let lock = try #require(table.acquire(key: "k", session: alice, wait: .zero, now: at(0)).0.lock)
        let bobWait = try #require(table.acquire(key: "k", session: bob, wait: .seconds(10), now: at(0)).0.waiter)

        let (outcome, effects) = table.forceRelease(key: "k", now: at(100))

        #expect(outcome == .released(lock, revision: 2))
        let event = Event(
            revision: 2,
            kind: .forceReleased,
            key: "k",
            sessionID: alice,
            fencingToken: lock.fencingToken,
            owner: "alice",
            at: at(100).wall
        )
        #expect(effects.first == .persist(.event(event)))
        #expect(effects.grants == [bobWait])
        let next = try #require(table.describe(key: "k").holder)
        #expect(next.sessionID == bob && next.fencingToken > lock.fencingToken)
        #expect(table.keepAlive(alice, now: at(200)) == .alive(ttl: .seconds(10), expiresIn: .seconds(10)))
        #expect(table.session(alice, now: at(200))?.locks == [])
        #expect(table.release(key: "k", session: alice, fencingToken: lock.fencingToken, now: at(200)).0 == .notHolder)
        #expect(table.forceRelease(key: "free", now: at(300)) == (.notFound, []))
    }

    @Test("force-release starts the lock delay")
    func forceReleaseDelay() {
        var table = LockTable(configuration: .init(lockDelay: .seconds(2)))
        let alice = table.open()
        let bob = table.open()
        _ = table.acquire(key: "k", session: alice, wait: .zero, now: at(0))
        let effects = table.forceRelease(key: "k", now: at(1_000)).1
        #expect(effects.events.map(\.kind) == [.forceReleased])
        #expect(
            table.acquire(key: "k", session: bob, wait: .zero, now: at(2_999)).0
                == .held(by: nil, delayedUntil: at(3_000))
        )
        #expect(table.acquire(key: "k", session: bob, wait: .zero, now: at(3_000)).0.lock?.sessionID == bob)
    }

    @Test("close starts no lock delay")
    func closeNoDelay() {
        var table = LockTable(configuration: .init(lockDelay: .seconds(2)))
        let alice = table.open()
        let bob = table.open()
        _ = table.acquire(key: "k", session: alice, wait: .zero, now: at(0))
        _ = table.closeSession(alice, now: at(10))
        #expect(table.acquire(key: "k", session: bob, wait: .zero, now: at(10)).0.lock?.sessionID == bob)
    }

    @Test("nextDeadline is never later than the earliest session expiry, wait timeout or delay end")
    func nextDeadline() throws {
        var table = LockTable(configuration: .init(lockDelay: .seconds(3)))
        #expect(table.nextDeadline == nil)
        let alice = table.open(ttl: .seconds(10), now: at(0))
        let bob = table.open(ttl: .seconds(20), now: at(0))
        #expect(table.nextDeadline == at(10_000))
        _ = table.acquire(key: "k", session: alice, wait: .zero, now: at(0))
        _ = table.acquire(key: "k", session: bob, wait: .seconds(4), now: at(1_000))
        #expect(table.nextDeadline == at(5_000))
        _ = table.keepAlive(alice, now: at(6_000))  // now 16 s; the heap still says 10 s: early is fine
        #expect(table.expire(now: at(5_000)) == [.fail(WaiterID(rawValue: 1), .timedOut)])
        #expect(try #require(table.nextDeadline) <= at(16_000))
        #expect(table.expire(now: at(10_000)).isEmpty)
        #expect(table.nextDeadline == at(16_000))
        _ = table.acquire(key: "k", session: bob, wait: .seconds(30), now: at(10_000))
        let effects = table.expire(now: at(16_000))
        #expect(effects.events.map(\.kind) == [.expired])
        #expect(table.nextDeadline == at(19_000))  // the delay ends before bob's session (20 s)
        #expect(table.expire(now: at(19_000)).grants.count == 1)
        #expect(table.nextDeadline == at(20_000))
        _ = table.closeSession(bob, now: at(19_500))
        #expect(table.expire(now: at(20_000)).isEmpty)
        // Bob's second wait (deadline 40 s) was granted; its heap entry is stale and only wakes the timer early.
        #expect(table.nextDeadline == at(40_000))
        #expect(table.expire(now: at(40_000)).isEmpty)
        #expect(table.nextDeadline == nil)
    }
}

@Suite("LockTable deadline heaps")
struct LockTableHeapTests {
    @Test("sessions expire on time after the expiry heap drops the entries of closed sessions")
    func sessionHeapCompaction() {
        var table = LockTable()
        let sessions = (0..<200).map { _ in table.open(ttl: .seconds(300), now: at(0)) }
        #expect(table.keepAlive(sessions[0], now: at(100_000)) == .alive(ttl: .seconds(300), expiresIn: .seconds(300)))
        for id in sessions.dropFirst(2) { _ = table.closeSession(id, now: at(100_000)) }
        #expect(table.sessionCount == 2)
        #expect(table.expire(now: at(299_999)).isEmpty)
        #expect(table.expire(now: at(300_000)) == [.persist(.removeSession(sessions[1]))])
        #expect(table.expire(now: at(399_999)).isEmpty)
        #expect(table.expire(now: at(400_000)) == [.persist(.removeSession(sessions[0]))])
        #expect(table.nextDeadline == nil)
    }

    @Test("waits time out on time after the wait heap drops the entries of cancelled and granted waits")
    func waitHeapCompaction() throws {
        var table = LockTable(configuration: .init(maxWaitersPerKey: 1_000))
        let holder = table.open(ttl: .seconds(300), now: at(0))
        var token = try #require(table.acquire(key: "k", session: holder, wait: .zero, now: at(0)).0.lock).fencingToken
        let sessions = (0..<300).map { _ in table.open(ttl: .seconds(300), now: at(0)) }
        var waiters: [WaiterID] = []
        for (index, session) in sessions.enumerated() {
            let wait = Duration.seconds(index == 299 ? 100 : 200)
            waiters.append(try #require(table.acquire(key: "k", session: session, wait: wait, now: at(0)).0.waiter))
        }
        for waiter in waiters[10..<290] { _ = table.cancelWait(waiter) }
        // Hand the lock down the first ten waiters: their wait entries go stale too.
        var releasing = holder
        for (session, waiter) in zip(sessions, waiters).prefix(10) {
            let effects = table.release(key: "k", session: releasing, fencingToken: token, now: at(1_000)).1
            #expect(effects.grants == [waiter])
            token = try #require(table.describe(key: "k").holder?.fencingToken)
            releasing = session
        }
        #expect(table.waiterCount == 10)
        #expect(table.expire(now: at(99_999)).isEmpty)
        #expect(table.expire(now: at(100_000)) == [.fail(waiters[299], .timedOut)])
        #expect(table.expire(now: at(199_999)).isEmpty)
        let timeouts = table.expire(now: at(200_000))
        #expect(timeouts == waiters[290..<299].map { .fail($0, .timedOut) })
        #expect(table.waiterCount == 0)
    }

    @Test("lock delays end on time after the delay heap drops the entries of delays ended early")
    func delayHeapCompaction() throws {
        var table = LockTable(configuration: .init(lockDelay: .seconds(1)))
        let alice = table.open(ttl: .seconds(300), now: at(0))
        let bob = table.open(ttl: .seconds(300), now: at(0))
        for index in 0..<100 {
            _ = table.acquire(key: "k\(index)", session: alice, wait: .zero, now: at(0))
            _ = table.forceRelease(key: "k\(index)", now: at(0))
        }
        _ = table.acquire(key: "z", session: alice, wait: .zero, now: at(1_500))
        _ = table.forceRelease(key: "z", now: at(1_500))
        let waiter = try #require(table.acquire(key: "z", session: bob, wait: .seconds(30), now: at(1_500)).0.waiter)
        // Each acquire ends its key's delay before expire(now:) sees it, leaving a stale heap entry; z's delay runs on.
        for index in 0..<100 {
            #expect(table.acquire(key: "k\(index)", session: bob, wait: .zero, now: at(2_000)).0.lock != nil)
        }
        #expect(try #require(table.nextDeadline) <= at(2_500))
        #expect(table.expire(now: at(2_499)).isEmpty)
        #expect(table.expire(now: at(2_500)).grants == [waiter])
    }
}
