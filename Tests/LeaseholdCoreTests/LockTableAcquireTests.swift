import LeaseholdCore
import Testing

@Suite("LockTable acquire and release")
struct LockTableAcquireTests {
    @Test("a free key is granted at once with the next revision as its token")
    func grant() {
        var table = LockTable()
        let session = table.open(owner: "alice", now: at(0))
        let (outcome, effects) = table.acquire(key: "jobs/1", session: session, wait: .zero, now: at(5))
        let lock = LockInfo(
            key: "jobs/1",
            sessionID: session,
            fencingToken: 1,
            owner: "alice",
            acquiredAt: WallTime(millisecondsSince1970: 5),
            sessionTTL: .seconds(10)
        )
        #expect(outcome == .granted(lock))
        let event = Event(
            revision: 1,
            kind: .acquired,
            key: "jobs/1",
            sessionID: session,
            fencingToken: 1,
            owner: "alice",
            at: WallTime(millisecondsSince1970: 5)
        )
        #expect(effects == [.persist(.event(event))])
        #expect(table.revision == 1)
    }

    @Test("the appending forms give what the returning forms give, appended after what the array held")
    func appendingForms() {
        // The same transitions on two tables: one through the forms that return their effects, one through the
        // forms that append them to a reused array.
        var returning = LockTable()
        var appending = LockTable()
        let holder = returning.open()
        let waiter = returning.open()
        #expect(appending.open() == holder)
        #expect(appending.open() == waiter)
        let marker = LockTable.Effect.persist(.removeSession(SessionID(rawValue: 999)))
        var effects: [LockTable.Effect] = [marker]

        let grant = returning.acquire(key: "k", session: holder, wait: .zero, now: at(1))
        #expect(appending.acquire(key: "k", session: holder, wait: .zero, now: at(1), into: &effects) == grant.0)
        #expect(effects == [marker] + grant.1)

        effects = [marker]
        let queued = returning.acquire(key: "k", session: waiter, wait: .seconds(5), now: at(2))
        #expect(appending.acquire(key: "k", session: waiter, wait: .seconds(5), now: at(2), into: &effects) == queued.0)
        #expect(effects == [marker] + queued.1)

        // The release hands the key over to the waiter: the released event, the acquired event, the grant.
        effects = [marker]
        let token = grant.0.lock!.fencingToken
        let released = returning.release(key: "k", session: holder, fencingToken: token, now: at(3))
        #expect(
            appending.release(key: "k", session: holder, fencingToken: token, now: at(3), into: &effects) == released.0
        )
        #expect(released.1.count == 3)
        #expect(effects == [marker] + released.1)

        // A refused release appends nothing.
        effects = [marker]
        #expect(
            appending.release(key: "k", session: holder, fencingToken: token, now: at(4), into: &effects) == .notHolder
        )
        #expect(effects == [marker])
        #expect(appending.revision == returning.revision)
        #expect(appending.describe(key: "k") == returning.describe(key: "k"))
    }

    @Test("acquiring a key the session holds returns the same grant and changes nothing")
    func idempotentAcquire() {
        var table = LockTable()
        let session = table.open()
        let first = table.acquire(key: "k", session: session, wait: .zero, now: at(0)).0
        let (again, effects) = table.acquire(key: "k", session: session, wait: .seconds(3), now: at(50))
        #expect(again == first)
        #expect(effects.isEmpty)
        #expect(table.revision == 1)
        #expect(table.describe(key: "k").queue.isEmpty)
    }

    @Test("a try-lock on a held key answers held with the holder")
    func tryLockHeld() {
        var table = LockTable()
        let alice = table.open()
        let bob = table.open()
        let lock = table.acquire(key: "k", session: alice, wait: .zero, now: at(0)).0.lock
        let (outcome, effects) = table.acquire(key: "k", session: bob, wait: .zero, now: at(1))
        #expect(outcome == .held(by: lock, delayedUntil: nil))
        #expect(effects.isEmpty)
    }

    @Test("three waiters are granted in FIFO order")
    func fifo() throws {
        var table = LockTable()
        let holder = table.open()
        let sessions = (0..<3).map { _ in table.open() }
        var token = try #require(table.acquire(key: "k", session: holder, wait: .zero, now: at(0)).0.lock).fencingToken
        let waiters = try sessions.enumerated().map { index, session in
            try #require(
                table.acquire(key: "k", session: session, wait: .seconds(30), now: at(Int64(index + 1))).0.waiter
            )
        }
        #expect(table.describe(key: "k").queue.map(\.sessionID) == sessions)
        #expect(table.describe(key: "k").queue.map(\.waitingSince.millisecondsSince1970) == [1, 2, 3])

        var releasing = holder
        for (session, waiter) in zip(sessions, waiters) {
            let (outcome, effects) = table.release(key: "k", session: releasing, fencingToken: token, now: at(10))
            guard case .released = outcome, case .grant(let granted, let lock)? = effects.last else {
                Issue.record("release did not hand over: \(outcome) \(effects)")
                return
            }
            #expect(granted == waiter)
            #expect(lock.sessionID == session)
            #expect(lock.fencingToken > token)
            #expect(effects.events.map(\.kind) == [.released, .acquired])
            token = lock.fencingToken
            releasing = session
        }
        #expect(table.describe(key: "k").queue.isEmpty)
    }

    @Test("a wait that times out leaves the queue intact for the others")
    func waitTimeout() throws {
        var table = LockTable()
        let holder = table.open(ttl: .seconds(60))
        let (b, c, d) = (table.open(ttl: .seconds(60)), table.open(ttl: .seconds(60)), table.open(ttl: .seconds(60)))
        let token = try #require(table.acquire(key: "k", session: holder, wait: .zero, now: at(0)).0.lock).fencingToken
        let waitB = try #require(table.acquire(key: "k", session: b, wait: .seconds(10), now: at(0)).0.waiter)
        let waitC = try #require(table.acquire(key: "k", session: c, wait: .seconds(1), now: at(0)).0.waiter)
        let waitD = try #require(table.acquire(key: "k", session: d, wait: .seconds(10), now: at(0)).0.waiter)
        #expect(table.nextDeadline == at(1_000))
        #expect(table.expire(now: at(999)).isEmpty)
        #expect(table.expire(now: at(1_000)) == [.fail(waitC, .timedOut)])
        #expect(table.describe(key: "k").queue.map(\.sessionID) == [b, d])
        let effects = table.release(key: "k", session: holder, fencingToken: token, now: at(2_000)).1
        #expect(effects.grants == [waitB])
        #expect(table.cancelWait(waitD).isEmpty)
        #expect(table.describe(key: "k").queue.isEmpty)
        #expect(table.expire(now: at(10_000)).isEmpty)
        #expect(table.waiterCount == 0)
    }

    @Test("release with a wrong token, by a non-holder or of a free key answers notHolder")
    func notHolder() throws {
        var table = LockTable()
        let alice = table.open()
        let bob = table.open()
        let token = try #require(table.acquire(key: "k", session: alice, wait: .zero, now: at(0)).0.lock).fencingToken
        #expect(table.release(key: "k", session: alice, fencingToken: token + 1, now: at(1)) == (.notHolder, []))
        #expect(table.release(key: "k", session: bob, fencingToken: token, now: at(1)) == (.notHolder, []))
        #expect(table.release(key: "free", session: alice, fencingToken: token, now: at(1)) == (.notHolder, []))
        #expect(
            table.release(key: "k", session: SessionID(9), fencingToken: token, now: at(1)) == (.sessionNotFound, [])
        )
        #expect(table.revision == 1)
        #expect(table.release(key: "k", session: alice, fencingToken: token, now: at(1)).0 == .released(revision: 2))
    }

    @Test("a repeated wait of the same session takes over the old one's place, which is cancelled")
    func supersededWait() throws {
        var table = LockTable()
        let (holder, b, c) = (table.open(), table.open(), table.open())
        let token = try #require(table.acquire(key: "k", session: holder, wait: .zero, now: at(0)).0.lock).fencingToken
        let oldB = try #require(table.acquire(key: "k", session: b, wait: .seconds(1), now: at(0)).0.waiter)
        let waitC = try #require(table.acquire(key: "k", session: c, wait: .seconds(5), now: at(1)).0.waiter)
        let (outcome, effects) = table.acquire(key: "k", session: b, wait: .seconds(5), now: at(2))
        let newB = try #require(outcome.waiter)
        #expect(newB != oldB)
        #expect(effects == [.fail(oldB, .cancelled)])
        #expect(table.describe(key: "k").queue.map(\.sessionID) == [b, c])
        // The old wait's deadline no longer applies.
        #expect(table.expire(now: at(1_500)).isEmpty)
        let handOver = table.release(key: "k", session: holder, fencingToken: token, now: at(2_000)).1
        #expect(handOver.grants == [newB])
        #expect(table.describe(key: "k").queue.map(\.sessionID) == [c])
        _ = waitC
    }

    @Test("maxWaitersPerKey bounds a queue, but a retry of a queued session still fits")
    func maxWaiters() {
        var table = LockTable(configuration: .init(maxWaitersPerKey: 2))
        let (holder, b, c, d) = (table.open(), table.open(), table.open(), table.open())
        _ = table.acquire(key: "k", session: holder, wait: .zero, now: at(0))
        #expect(table.acquire(key: "k", session: b, wait: .seconds(5), now: at(0)).0.waiter != nil)
        #expect(table.acquire(key: "k", session: c, wait: .seconds(5), now: at(0)).0.waiter != nil)
        #expect(table.acquire(key: "k", session: d, wait: .seconds(5), now: at(0)) == (.tooManyWaiters, []))
        #expect(table.acquire(key: "k", session: c, wait: .seconds(5), now: at(0)).0.waiter != nil)
        #expect(table.acquire(key: "other", session: d, wait: .seconds(5), now: at(0)).0.lock != nil)
    }

    @Test(
        "keys are 1 to 512 bytes of UTF-8 without NUL",
        arguments: [
            ("", false), ("jobs/1", true), ("a\u{0}b", false),
            (String(repeating: "x", count: 512), true), (String(repeating: "x", count: 513), false),
            (String(repeating: "é", count: 256), true), (String(repeating: "é", count: 257), false),
        ]
    )
    func keyValidation(key: String, valid: Bool) {
        var table = LockTable()
        let session = table.open()
        let (outcome, effects) = table.acquire(key: key, session: session, wait: .zero, now: at(0))
        if valid {
            #expect(outcome.lock?.key == key)
        } else {
            guard case .invalidKey(let reason) = outcome else {
                Issue.record("expected invalidKey, got \(outcome)")
                return
            }
            #expect(!reason.isEmpty)
            #expect(effects.isEmpty)
        }
    }

    @Test("keys are compared by bytes: canonically equivalent spellings are two locks")
    func byteKeys() {
        var table = LockTable()
        let (alice, bob) = (table.open(), table.open())
        #expect(table.acquire(key: "caf\u{E9}", session: alice, wait: .zero, now: at(0)).0.lock != nil)
        #expect(table.acquire(key: "cafe\u{301}", session: bob, wait: .zero, now: at(0)).0.lock != nil)
        #expect(table.list(prefix: "caf").count == 2)
        #expect(table.list(prefix: "cafe").map(\.sessionID) == [bob])
    }

    @Test("cancelWait takes a waiter out of its queue without a failure effect")
    func cancelWait() throws {
        var table = LockTable()
        let (holder, b, c) = (table.open(), table.open(), table.open())
        let token = try #require(table.acquire(key: "k", session: holder, wait: .zero, now: at(0)).0.lock).fencingToken
        let waitB = try #require(table.acquire(key: "k", session: b, wait: .seconds(5), now: at(0)).0.waiter)
        let waitC = try #require(table.acquire(key: "k", session: c, wait: .seconds(5), now: at(0)).0.waiter)
        #expect(table.cancelWait(waitB).isEmpty)
        #expect(table.cancelWait(waitB).isEmpty)
        #expect(table.describe(key: "k").queue.map(\.sessionID) == [c])
        #expect(table.release(key: "k", session: holder, fencingToken: token, now: at(1)).1.grants == [waitC])
        #expect(table.expire(now: at(5_000)).isEmpty)
    }

    @Test("describe, validate and list answer from the current state")
    func queries() throws {
        var table = LockTable()
        let (alice, bob) = (table.open(owner: "alice"), table.open(owner: "bob"))
        let lockB = try #require(table.acquire(key: "jobs/b", session: alice, wait: .zero, now: at(0)).0.lock)
        let lockA = try #require(table.acquire(key: "jobs/a", session: bob, wait: .zero, now: at(0)).0.lock)
        let lockX = try #require(table.acquire(key: "other", session: bob, wait: .zero, now: at(0)).0.lock)
        _ = table.acquire(key: "jobs/b", session: bob, wait: .seconds(9), now: at(7))

        #expect(
            table.describe(key: "jobs/b")
                == .init(
                    holder: lockB,
                    queue: [WaiterInfo(sessionID: bob, owner: "bob", waitingSince: at(7).wall)],
                    revision: 3
                )
        )
        #expect(table.describe(key: "free") == .init(holder: nil, queue: [], revision: 3))
        #expect(
            table.validate(key: "jobs/a", fencingToken: lockA.fencingToken)
                == .init(valid: true, holder: lockA, revision: 3)
        )
        #expect(
            table.validate(key: "jobs/a", fencingToken: lockB.fencingToken)
                == .init(valid: false, holder: lockA, revision: 3)
        )
        #expect(table.validate(key: "free", fencingToken: 1) == .init(valid: false, holder: nil, revision: 3))
        #expect(table.list(prefix: "") == [lockA, lockB, lockX])
        #expect(table.list(prefix: "jobs/") == [lockA, lockB])
        #expect(table.list(prefix: "", limit: 1) == [lockA])
        #expect(table.list(prefix: "nothing").isEmpty)
        #expect(table.session(alice, now: at(1_000))?.locks == [lockB])
        #expect(table.session(alice, now: at(1_000))?.expiresIn == .seconds(9))
        #expect(table.session(SessionID(77), now: at(0)) == nil)
        #expect(table.lockCount == 3 && table.waiterCount == 1 && table.sessionCount == 2)
    }
}
