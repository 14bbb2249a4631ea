import LeaseholdCore
import Testing

@Suite("LockTable restore")
struct LockTableRestoreTests {
    @Test("restore gives every session a fresh TTL and continues the revision and session ids")
    func restore() throws {
        var table = LockTable()
        var database = ModelDatabase()
        func run(_ effects: [LockTable.Effect]) { database.apply(effects) }

        let (opened, openEffects) = table.openSession(
            ttl: .seconds(10),
            secretHash: secret(3),
            owner: "alice",
            name: "w",
            now: at(0)
        )
        run(openEffects)
        guard case .opened(let alice) = opened else { throw Failure("not opened: \(opened)") }
        let (bobOpened, bobEffects) = table.openSession(
            ttl: .seconds(5),
            secretHash: secret(4),
            owner: "bob",
            name: "w",
            now: at(0)
        )
        run(bobEffects)
        guard case .opened(let bobInfo) = bobOpened else { throw Failure("not opened: \(bobOpened)") }
        let bob = bobInfo.id
        let (acquiredA, effectsA) = table.acquire(key: "a", session: alice.id, wait: .zero, now: at(0))
        run(effectsA)
        let lockA = try #require(acquiredA.lock)
        let (acquiredB, effectsB) = table.acquire(key: "b", session: alice.id, wait: .zero, now: at(0))
        run(effectsB)
        let lockB = try #require(acquiredB.lock)
        run(table.release(key: "b", session: alice.id, fencingToken: lockB.fencingToken, now: at(1)).1)
        _ = table.acquire(key: "c", session: bob, wait: .zero, now: at(1))  // never persisted: lost in the crash

        // The server was down for 100 s, past every old deadline.
        var restored = LockTable(restoring: database.state, now: at(100_000))

        #expect(restored.revision == 3)
        #expect(restored.sessionCount == 2)
        #expect(restored.session(bob, now: at(100_000))?.locks == [])
        #expect(restored.list(prefix: "") == [lockA])
        #expect(restored.expire(now: at(104_999)).isEmpty)
        #expect(restored.expire(now: at(105_000)) == [.persist(.removeSession(bob))])
        #expect(restored.expire(now: at(109_999)).isEmpty)
        #expect(restored.resumeSession(alice.id, secretHash: secret(3), now: at(109_999)) != .expired)
        let next = restored.open(now: at(110_000))
        #expect(next == SessionID(3))
        let acquiredC = restored.acquire(key: "c", session: next, wait: .zero, now: at(110_000)).0.lock
        let lockC = try #require(acquiredC)
        #expect(lockC.fencingToken == 4)
        #expect(restored.expire(now: at(119_999)).events.map(\.key) == ["a"])
    }

    @Test("a restored revision and session counter never go back, even below what the rows show")
    func neverBack() {
        let record = SessionRecord(id: SessionID(9), secretHash: [], ttl: .seconds(10), owner: "o", name: "n")
        let lock = LockInfo(
            key: "k",
            sessionID: SessionID(9),
            fencingToken: 50,
            owner: "o",
            acquiredAt: at(0).wall,
            sessionTTL: .seconds(10)
        )
        var table = LockTable(
            restoring: PersistedState(revision: 40, lastSessionID: SessionID(2), sessions: [record], locks: [lock]),
            now: at(0)
        )
        #expect(table.revision == 50)
        #expect(table.open() == SessionID(10))
        #expect(table.validate(key: "k", fencingToken: 50).valid)
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
