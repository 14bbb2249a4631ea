import LeaseholdCore
import Testing

@Suite("LockTable sessions")
struct LockTableSessionTests {
    @Test(
        "TTL zero means the default, the range is 1 s to 300 s",
        arguments: [
            (Duration.zero, Duration?.some(.seconds(10))),
            (.milliseconds(999), nil),
            (.seconds(1), .seconds(1)),
            (.seconds(300), .seconds(300)),
            (.milliseconds(300_001), nil),
            (.seconds(-5), nil),
        ]
    )
    func ttlRange(requested: Duration, granted: Duration?) {
        var table = LockTable()
        let (outcome, effects) = table.openSession(
            ttl: requested,
            secretHash: secret(1),
            owner: "alice",
            name: "n",
            now: at(0)
        )
        if let granted {
            let expected = LockTable.SessionDescription(
                id: SessionID(1),
                ttl: granted,
                expiresIn: granted,
                owner: "alice",
                name: "n",
                locks: []
            )
            #expect(outcome == .opened(expected))
            let record = SessionRecord(id: SessionID(1), secretHash: secret(1), ttl: granted, owner: "alice", name: "n")
            #expect(effects == [.persist(.openSession(record))])
        } else {
            #expect(outcome == .invalidTTL)
            #expect(effects.isEmpty)
            #expect(table.sessionCount == 0)
        }
    }

    @Test("session ids count up from the last one and are never reused")
    func sessionIDs() {
        var table = LockTable()
        let first = table.open()
        let second = table.open()
        _ = table.closeSession(second, now: at(1))
        let third = table.open()
        #expect([first, second, third] == [SessionID(1), SessionID(2), SessionID(3)])
    }

    @Test("a session without keepalives expires at its TTL, not 1 ms before")
    func expiryAtTTL() {
        var table = LockTable()
        let session = table.open(ttl: .seconds(10), now: at(0))
        let lock = table.acquire(key: "jobs/1", session: session, wait: .zero, now: at(0)).0.lock
        #expect(table.nextDeadline == at(10_000))
        #expect(table.expire(now: at(9_999)).isEmpty)
        #expect(table.keepAlive(session, now: at(9_999)) == .alive(ttl: .seconds(10), expiresIn: .seconds(10)))
        #expect(table.expire(now: at(19_998)).isEmpty)
        let effects = table.expire(now: at(19_999))
        let expired = Event(
            revision: 2,
            kind: .expired,
            key: "jobs/1",
            sessionID: session,
            fencingToken: lock?.fencingToken ?? 0,
            owner: "alice",
            at: WallTime(millisecondsSince1970: 19_999)
        )
        #expect(effects == [.persist(.event(expired)), .persist(.removeSession(session))])
        #expect(table.sessionCount == 0)
        #expect(table.describe(key: "jobs/1").holder == nil)
    }

    @Test("a session past its deadline counts as expired before expire(now:) runs")
    func pastDeadlineIsExpired() {
        var table = LockTable()
        let session = table.open(ttl: .seconds(10), now: at(0))
        #expect(table.keepAlive(session, now: at(10_000)) == .expired)
        #expect(table.resumeSession(session, secretHash: secret(1), now: at(10_000)) == .expired)
        #expect(table.acquire(key: "k", session: session, wait: .zero, now: at(10_000)).0 == .sessionExpired)
        #expect(table.release(key: "k", session: session, fencingToken: 1, now: at(10_000)).0 == .sessionExpired)
        #expect(table.closeSession(session, now: at(10_000)) == (.notFound, []))
        #expect(table.session(session, now: at(10_000))?.expiresIn == .zero)
        #expect(table.expire(now: at(10_000)) == [.persist(.removeSession(session))])
        #expect(table.keepAlive(session, now: at(10_000)) == .notFound)
    }

    @Test("keepalive pushes expiry out and is never persisted")
    func keepAlivePushesExpiry() throws {
        var table = LockTable()
        let session = table.open(ttl: .seconds(10), now: at(0))
        #expect(table.keepAlive(session, now: at(8_000)) == .alive(ttl: .seconds(10), expiresIn: .seconds(10)))
        #expect(table.expire(now: at(10_000)).isEmpty)
        let next = try #require(table.nextDeadline)
        #expect(next > at(10_000) && next <= at(18_000))
        #expect(table.expire(now: at(17_999)).isEmpty)
        #expect(table.expire(now: at(18_000)) == [.persist(.removeSession(session))])
        #expect(table.keepAlive(SessionID(99), now: at(0)) == .notFound)
    }

    @Test("resume checks the secret, refreshes the deadline and lists the locks held")
    func resume() {
        var table = LockTable()
        let session = table.open(ttl: .seconds(10), owner: "bob", secretHash: secret(7), now: at(0))
        let lock = table.acquire(key: "b", session: session, wait: .zero, now: at(1)).0.lock
        let other = table.acquire(key: "a", session: session, wait: .zero, now: at(2)).0.lock
        #expect(table.resumeSession(session, secretHash: secret(8), now: at(5_000)) == .wrongSecret)
        #expect(table.resumeSession(session, secretHash: [7], now: at(5_000)) == .wrongSecret)
        #expect(table.resumeSession(session, secretHash: secret(7) + [0], now: at(5_000)) == .wrongSecret)
        #expect(table.resumeSession(SessionID(42), secretHash: secret(7), now: at(5_000)) == .notFound)
        let expected = LockTable.SessionDescription(
            id: session,
            ttl: .seconds(10),
            expiresIn: .seconds(10),
            owner: "bob",
            name: "test",
            locks: [other, lock].compactMap { $0 }
        )
        #expect(table.resumeSession(session, secretHash: secret(7), now: at(5_000)) == .resumed(expected))
        #expect(table.expire(now: at(14_999)).isEmpty)
        #expect(table.expire(now: at(15_000)).events.map(\.kind) == [.expired, .expired])
    }

    @Test("close releases every lock with one event each, fails the session's waits, then removes it")
    func close() throws {
        var table = LockTable()
        let alice = table.open(owner: "alice")
        let bob = table.open(owner: "bob")
        for key in ["c", "a", "b"] { _ = table.acquire(key: key, session: alice, wait: .zero, now: at(0)) }
        _ = table.acquire(key: "z", session: bob, wait: .zero, now: at(0))
        let waiter = table.acquire(key: "z", session: alice, wait: .seconds(5), now: at(0)).0.waiter
        let bobWaiter = table.acquire(key: "b", session: bob, wait: .seconds(5), now: at(0)).0.waiter
        let before = table.revision

        let (outcome, effects) = table.closeSession(alice, now: at(100))

        #expect(outcome == .closed(released: 3))
        let events = effects.events
        #expect(events.map(\.key) == ["a", "b", "b", "c"])
        #expect(events.map(\.kind) == [.released, .released, .acquired, .released])
        #expect(events.map(\.revision) == Array(before + 1...before + 4))
        #expect(effects.grants == [bobWaiter].compactMap { $0 })
        #expect(effects.failures == [.fail(try #require(waiter), .sessionClosed)])
        #expect(effects.last == .persist(.removeSession(alice)))
        #expect(table.revision == before + 4)
        #expect(table.describe(key: "z").queue.isEmpty)
        #expect(table.closeSession(alice, now: at(100)) == (.notFound, []))
    }

    @Test("maxSessions limits open sessions, and closing one makes room")
    func maxSessions() {
        var table = LockTable(configuration: .init(maxSessions: 2))
        let first = table.open()
        _ = table.open()
        let (outcome, effects) = table.openSession(ttl: .zero, secretHash: [], owner: "x", name: "", now: at(0))
        #expect(outcome == .tooManySessions)
        #expect(effects.isEmpty)
        _ = table.closeSession(first, now: at(1))
        #expect(table.open() == SessionID(3))
    }
}
