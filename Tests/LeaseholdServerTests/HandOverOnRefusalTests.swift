import LeaseholdCore
import LeaseholdRPC
import LeaseholdServer
import LeaseholdStore
import LeaseholdTestSupport
import LeaseholdTestUtilities
import LeaseholdWire
import Logging
import Synchronization
import Testing

@Suite("A refused Acquire still carries out the hand-over the table made on its way")
struct HandOverOnRefusalTests {
    @Test("a try-lock after a lock delay ended hands the key to the queue's head, durably, before it is refused")
    func tryLockAfterDelay() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("l.db")
        let store = try SQLiteStore(configuration: .init(path: path), logger: Logger(label: "test"))
        // Nothing runs the expiry timer here (the server runs `runExpiry()`): whatever the table does at a
        // deadline happens only inside the calls the test makes.
        let clock = ManualClock()
        let service = try LockService(
            store: store,
            configuration: .init(lockDelay: .seconds(5)),
            clock: clock,
            logger: Logger(label: "test")
        )
        let connection = ConnectionID(rawValue: 1)
        var sessions: [OpenedSession] = []
        for name in ["holder", "waiter", "prober"] {
            sessions.append(
                try await service.openSession(ttl: .seconds(60), name: name, owner: name, connection: connection)
            )
        }
        let (holder, waiter, prober) = (sessions[0], sessions[1], sessions[2])
        _ = try await service.acquire(key: "k", session: holder.id, wait: .zero, connection: connection)

        let answers = Answers()
        service.acquire(
            key: "k",
            session: waiter.id,
            wait: .seconds(30),
            connection: connection,
            completion: answers.record("waiter")
        )
        // The force-release starts the lock delay; the waiter stays queued behind it.
        _ = try await withCheckedThrowingContinuation { continuation in
            service.forceRelease(key: "k", reason: "test", principal: Principal(name: "ops", roles: ["admin"])) {
                continuation.resume(with: $0)
            }
        }
        #expect(answers.all.isEmpty)

        // The delay has ended, and no timer has processed it: the try-lock finds the key grantable, the table
        // grants it to the queue's head and refuses the try-lock naming that new holder.
        clock.advance(by: .seconds(6))
        service.acquire(
            key: "k",
            session: prober.id,
            wait: .zero,
            connection: connection,
            completion: answers.record("prober")
        )
        let all = await answers.waitFor(count: 2)
        // The waiter's grant went first (the refusal waited for its commit), and it is on disk.
        #expect(all.first == "waiter: ok")
        #expect(all.dropFirst().first?.hasPrefix("prober: LOCK_HELD holder \(waiter.id)") == true)
        let description = try await service.describe(key: "k")
        #expect(description.holder?.sessionID == waiter.id)
        service.stop()
        store.close()
        let reopened = try SQLiteStore(configuration: .init(path: path), logger: Logger(label: "test"))
        defer { reopened.close() }
        #expect(try reopened.load().locks.map(\.sessionID) == [waiter.id])
    }
}
