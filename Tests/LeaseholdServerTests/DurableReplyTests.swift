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

/// A real SQLite store whose commits can be held back, as a slow disk holds them, and then let through or failed
/// (a crash undoes them, or the disk refuses them).
final class HeldStore: Store {
    struct Undone: Error {}
    private struct State {
        var holding = false
        var held: [([Mutation], @Sendable (Result<Void, any Error>) -> Void)] = []
    }

    let inner: SQLiteStore
    private let state = Mutex(State())

    init(path: String) throws {
        self.inner = try SQLiteStore(configuration: .init(path: path), logger: Logger(label: "test"))
    }

    /// From now on every batch, barriers included, waits until ``letThrough()`` or ``failHeld()``.
    func hold() { self.state.withLock { $0.holding = true } }

    /// Commits the held batches, in order, and stops holding.
    func letThrough() {
        let held = self.state.withLock { state in
            state.holding = false
            defer { state.held = [] }
            return state.held
        }
        for (mutations, completion) in held { self.inner.submit(mutations, completion: completion) }
    }

    /// Fails the held batches with mutations (barriers succeed, as the real writer's do), and stops holding.
    func failHeld() {
        let held = self.state.withLock { state in
            state.holding = false
            defer { state.held = [] }
            return state.held
        }
        for (mutations, completion) in held {
            self.inner.submit([]) { _ in completion(mutations.isEmpty ? .success(()) : .failure(Undone())) }
        }
    }

    func load() throws -> PersistedState { try self.inner.load() }

    func submit(_ mutations: [Mutation], completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        let held = self.state.withLock { state -> Bool in
            guard state.holding else { return false }
            state.held.append((mutations, completion))
            return true
        }
        if !held { self.inner.submit(mutations, completion: completion) }
    }

    func events(prefix: String, from start: UInt64, limit: Int) async throws -> EventPage {
        try await self.inner.events(prefix: prefix, from: start, limit: limit)
    }

    func enforceRetention() async throws { try await self.inner.enforceRetention() }

    func close() { self.inner.close() }

    var commitStatistics: CommitStatistics { self.inner.commitStatistics }
}

/// Collects the answers of calls made through the lock service's completion API, in the order they arrive.
final class Answers: Sendable {
    private let answers = Mutex<[String]>([])

    func record<T>(_ name: String) -> @Sendable (Result<T, any Error>) -> Void {
        { result in
            let text: String
            switch result {
            case .success: text = "\(name): ok"
            case .failure(let error as LeaseholdError):
                text =
                    "\(name): \(error.code)"
                    + (error.holder.map { " holder \($0.sessionID) token \($0.fencingToken)" } ?? "")
            case .failure(let error): text = "\(name): \(error)"
            }
            self.answers.withLock { $0.append(text) }
        }
    }

    var all: [String] { self.answers.withLock { $0 } }

    func waitFor(count: Int) async -> [String] {
        _ = await eventually { self.all.count >= count }
        return self.all
    }
}

@Suite("Every reply waits until what it shows is durable")
struct DurableReplyTests {
    struct Fixture {
        let directory: TemporaryDirectory
        let store: HeldStore
        let service: LockService
        let holder: OpenedSession
        let other: OpenedSession
        let connection = ConnectionID(rawValue: 1)

        init() async throws {
            self.directory = try TemporaryDirectory()
            self.store = try HeldStore(path: self.directory.file("l.db"))
            self.service = try LockService(
                store: self.store,
                configuration: .init(),
                clock: ManualClock(),
                logger: Logger(label: "test")
            )
            self.holder = try await self.service.openSession(
                ttl: .seconds(30),
                name: "holder",
                owner: "a",
                connection: self.connection
            )
            self.other = try await self.service.openSession(
                ttl: .seconds(30),
                name: "other",
                owner: "b",
                connection: self.connection
            )
        }

        /// While the holder's grant of `k` is being written, the other session asks every question whose answer
        /// shows that grant. With no commit in flight each would be answered before its call returns.
        func askWhileTheGrantIsInFlight(_ answers: Answers) {
            self.store.hold()
            self.service.acquire(
                key: "k",
                session: self.holder.id,
                wait: .zero,
                connection: self.connection,
                completion: answers.record("grant")
            )
            self.service.acquire(
                key: "k",
                session: self.other.id,
                wait: .zero,
                connection: self.connection,
                completion: answers.record("try-lock")
            )
            self.service.describe(key: "k", completion: answers.record("describe"))
            self.service.validate(key: "k", fencingToken: 1, completion: answers.record("validate"))
            self.service.list(prefix: "", limit: nil, completion: answers.record("list"))
            self.service.release(
                key: "k",
                session: self.other.id,
                fencingToken: 3,
                connection: self.connection,
                completion: answers.record("wrong release")
            )
            self.service.keepAlive(self.other.id, connection: self.connection, completion: answers.record("keepalive"))
        }

        func close() {
            self.service.stop()
            self.store.close()
            self.directory.remove()
        }
    }

    @Test("LOCK_HELD, NOT_LOCK_HOLDER, queries and keepalives wait for the grant they show to be durable")
    func repliesWaitForTheCommitInFlight() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let answers = Answers()

        fixture.askWhileTheGrantIsInFlight(answers)
        #expect(answers.all.isEmpty, "answered before the grant they show was durable: \(answers.all)")
        // The inline keepalive path does not answer either: it hands the call to the waiting path.
        #expect(fixture.service.keepAliveNow(fixture.other.id, connection: fixture.connection) == nil)

        fixture.store.letThrough()
        let all = await answers.waitFor(count: 7)
        let holder = fixture.holder.id
        #expect(
            all == [
                "grant: ok", "try-lock: LOCK_HELD holder \(holder) token 1", "describe: ok", "validate: ok", "list: ok",
                "wrong release: NOT_LOCK_HOLDER", "keepalive: ok",
            ]
        )
    }

    @Test("when the commit in flight fails, the replies that showed it answer UNAVAILABLE instead")
    func repliesOfAFailedCommitSayUnavailable() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let answers = Answers()

        fixture.askWhileTheGrantIsInFlight(answers)
        #expect(answers.all.isEmpty)

        fixture.store.failHeld()
        let all = await answers.waitFor(count: 7)
        #expect(all.allSatisfy { $0.hasSuffix(": UNAVAILABLE") }, "\(all)")
        // Nobody was told of the holder, and after recovery nobody holds the key.
        let recovered = await eventually { (try? await fixture.service.describe(key: "k")) != nil }
        #expect(recovered)
        #expect(try await fixture.service.describe(key: "k").holder == nil)
    }

    @Test(
        "with no commit in flight a refused try-lock and a keepalive answer before their calls return, with no commit"
    )
    func noCommitInFlightAnswersAtOnce() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        _ = try await fixture.service.acquire(
            key: "k",
            session: fixture.holder.id,
            wait: .zero,
            connection: fixture.connection
        )
        let answers = Answers()
        let before = fixture.store.inner.statistics.batches
        fixture.service.acquire(
            key: "k",
            session: fixture.other.id,
            wait: .zero,
            connection: fixture.connection,
            completion: answers.record("try-lock")
        )
        #expect(answers.all == ["try-lock: LOCK_HELD holder \(fixture.holder.id) token 1"])
        let lease = try #require(fixture.service.keepAliveNow(fixture.other.id, connection: fixture.connection))
        #expect(try lease.get().ttl == .seconds(30))
        #expect(fixture.store.inner.statistics.batches == before)
    }
}
