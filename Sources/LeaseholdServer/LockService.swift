import Crypto
import LeaseholdConcurrency
public import LeaseholdCore
public import LeaseholdRPC
public import LeaseholdStore
import LeaseholdWire
public import Logging
import Synchronization

/// The single owner of lock state: Core's ``LockTable`` behind a mutex, the store, and the watch hub.
///
/// Every operation applies its transition and queues the resulting mutations in the store inside one critical
/// section, so the store commits them in transition order. Watch events go out only once their mutations are
/// durable (group commit lets one sync serve many callers).
///
/// Every reply leaves through one gate, ``whenDurable(in:_:)``: successes and errors alike (a `LOCK_HELD` naming a
/// holder, a `NOT_LOCK_HOLDER`, a query, a failed wait) are sent only once every commit submitted before the reply
/// was computed is durable, so nobody is shown state that a crash could still undo. When nothing is in flight the
/// reply goes out at once; otherwise it rides on the commit in flight and costs no sync of its own.
///
/// Each operation takes a completion, called once from whatever thread finishes it (usually the store's writer,
/// when the commit is durable), so that the RPC layer can answer without a task per call. Each also has an `async`
/// form for callers that have a task anyway.
public final class LockService: Sendable {
    /// Receives an operation's answer, once.
    public typealias Completion<T> = @Sendable (Result<T, any Error>) -> Void

    private enum Mode { case serving, recovering, stopped }

    private struct State: AfterUnlockState {
        var table: LockTable
        /// Completions of queued `Acquire` calls.
        var waiters: [WaiterID: Completion<LockInfo>] = [:]
        /// Which connection may act for each session (the one that opened or last resumed it).
        var bindings: [SessionID: ConnectionID] = [:]
        var mode = Mode.serving
        /// Replies to send once the lock is released (a completion may call back into the service, and a task
        /// being cancelled holds its own status lock while its cancellation handler waits for ours).
        var afterUnlock = AfterUnlock()
        /// The newest batch submitted to the store; replies wait for it (``whenDurable(in:_:)``).
        var newestCommit: PendingCommit?
        /// The array the lock calls' transitions append their effects to, emptied and kept after each one: an
        /// `Acquire` or `Release` then allocates no effects array of its own.
        var effects: [LockTable.Effect] = []

        /// Takes the reused effects array (empty), for a transition to append to.
        mutating func takeEffects() -> [LockTable.Effect] {
            var effects: [LockTable.Effect] = []
            swap(&effects, &self.effects)
            return effects
        }

        /// Empties `effects` and keeps its memory for the next transition (unless a burst grew it).
        mutating func reuseEffects(_ effects: inout [LockTable.Effect]) {
            guard effects.capacity <= 64 else { return }
            effects.removeAll(keepingCapacity: true)
            swap(&self.effects, &effects)
        }
    }

    private let state: Mutex<State>
    private let store: any Store
    private let clock: any LeaseClock
    private let logger: Logger
    /// Where committed events go.
    let hub: WatchHub
    private let configuration: LockTable.Configuration
    private let timer: ExpiryTimer
    /// Set when a commit fails, until ``recover(after:)`` has rebuilt the table from disk: the table was ahead of
    /// the disk, so later replies may show what the failed commit lost, and answer `UNAVAILABLE` instead.
    private let commitFailed = Atomic<Bool>(false)
    private let unrecoverable = AsyncStream.makeStream(of: (any Error).self)

    /// The errors after which the service cannot go on: a failed commit whose recovery could not reload the state
    /// from the store. It then refuses every call; ``LeaseholdServer/run()`` stops the server and fails with it.
    public var unrecoverableErrors: AsyncStream<any Error> { self.unrecoverable.stream }

    /// Loads the durable state and builds the table; every session gets a fresh TTL from now.
    /// - Parameters:
    ///   - store: The durable store; it must be open.
    ///   - configuration: Limits and the lock delay.
    ///   - clock: The source of time.
    ///   - logger: Where the service logs.
    /// - Throws: The store's error when its state cannot be read.
    public init(
        store: any Store,
        configuration: LockTable.Configuration,
        clock: any LeaseClock,
        logger: Logger
    ) throws {
        let persisted = try store.load()
        self.store = store
        self.clock = clock
        self.logger = logger
        self.configuration = configuration
        self.hub = WatchHub(lastPublished: persisted.revision, store: store)
        self.timer = ExpiryTimer(clock: clock)
        self.state = Mutex(
            State(table: LockTable(restoring: persisted, configuration: configuration, now: clock.now()))
        )
        logger.info(
            "lock state loaded",
            metadata: [
                "revision": "\(persisted.revision)", "sessions": "\(persisted.sessions.count)",
                "locks": "\(persisted.locks.count)",
            ]
        )
    }

    // MARK: - Sessions

    /// Opens a session owned by `principal` and bound to `connection`.
    /// - Returns: The session, with its secret (the only time the secret is sent).
    /// - Throws: `INVALID_ARGUMENT` (TTL out of range), `RESOURCE_EXHAUSTED` (session limit), `UNAVAILABLE`.
    public func openSession(
        ttl: Duration,
        name: String,
        owner: String,
        connection: ConnectionID,
        completion: @escaping Completion<OpenedSession>
    ) {
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let hash = Self.hash(secret)
        self.transact(
            { state, now in
                let (outcome, effects) = state.table.openSession(
                    ttl: ttl,
                    secretHash: hash,
                    owner: owner,
                    name: name,
                    now: now
                )
                switch outcome {
                case .opened(let info):
                    state.bindings[info.id] = connection
                    return (info, effects)
                case .invalidTTL:
                    throw LeaseholdError(
                        code: .invalidArgument,
                        message: "ttl \(ttl) is outside \(self.configuration.minTTL)...\(self.configuration.maxTTL)"
                    )
                case .tooManySessions:
                    throw LeaseholdError(
                        code: .resourceExhausted,
                        message: "the server holds \(self.configuration.maxSessions) sessions already"
                    )
                }
            },
            completion: { completion($0.map { OpenedSession(info: $0, secret: secret) }) }
        )
    }

    /// Resumes a session on `connection` after a reconnect; counts as a keepalive.
    /// - Throws: `NOT_FOUND`, `SESSION_EXPIRED`, `PERMISSION_DENIED` (wrong secret), `UNAVAILABLE`.
    public func resumeSession(
        _ id: SessionID,
        secret: [UInt8],
        connection: ConnectionID,
        completion: @escaping Completion<LockTable.SessionDescription>
    ) {
        let hash = Self.hash(secret)
        self.transact(
            { state, now in
                switch state.table.resumeSession(id, secretHash: hash, now: now) {
                case .resumed(let info):
                    state.bindings[id] = connection
                    return (info, [])
                case .notFound: throw Self.sessionNotFound(id)
                case .expired: throw Self.sessionExpired(id)
                case .wrongSecret:
                    throw LeaseholdError(code: .permissionDenied, message: "wrong secret for session \(id)")
                }
            },
            completion: completion
        )
    }

    /// Extends a session's deadline by its TTL. Never written to disk.
    /// - Returns: The TTL and the time left; `SESSION_EXPIRED`, `NOT_FOUND` or `PERMISSION_DENIED` (another
    ///   connection's session). Like every reply, it waits for the commit in flight, if any: an expiry that is
    ///   not durable yet could still be undone by a crash.
    public func keepAlive(
        _ id: SessionID,
        connection: ConnectionID,
        completion: @escaping Completion<LockTable.SessionLease>
    ) {
        self.transact(
            { state, now in (try self.keepAlive(id, connection: connection, in: &state, now: now), []) },
            completion: completion
        )
    }

    /// ``keepAlive(_:connection:completion:)`` answered on the calling thread, for the RPC layer's inline path:
    /// keepalives are the most frequent call, and most find no commit in flight.
    /// - Returns: The answer, or `nil` when a commit is in flight: then the answer must wait for it, through
    ///   ``keepAlive(_:connection:completion:)``.
    public func keepAliveNow(_ id: SessionID, connection: ConnectionID) -> Result<LockTable.SessionLease, any Error>? {
        self.transactNow { state, now in try self.keepAlive(id, connection: connection, in: &state, now: now) }
    }

    private func keepAlive(
        _ id: SessionID,
        connection: ConnectionID,
        in state: inout State,
        now: Instant
    ) throws -> LockTable.SessionLease {
        try self.checkBinding(state, id, connection)
        switch state.table.keepAlive(id, now: now) {
        case .alive(let ttl, let expiresIn): return LockTable.SessionLease(ttl: ttl, expiresIn: expiresIn)
        case .expired: throw Self.sessionExpired(id)
        case .notFound: throw Self.sessionNotFound(id)
        }
    }

    /// Closes a session, releasing all its locks.
    /// - Returns: How many locks it held.
    public func closeSession(_ id: SessionID, connection: ConnectionID, completion: @escaping Completion<Int>) {
        self.transact(
            { state, now in
                try self.checkBinding(state, id, connection)
                let (outcome, effects) = state.table.closeSession(id, now: now)
                switch outcome {
                case .closed(let released):
                    state.bindings.removeValue(forKey: id)
                    return (released, effects)
                case .notFound: throw Self.sessionNotFound(id)
                }
            },
            completion: completion
        )
    }

    // MARK: - Locks

    /// Takes `key` for `session`, waiting up to `wait` in the key's FIFO queue.
    /// - Returns: The grant, once durable.
    /// - Throws: `LOCK_HELD` (try-lock), `DEADLINE_EXCEEDED` (the wait ran out), `SESSION_EXPIRED`,
    ///   `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, `PERMISSION_DENIED`, `UNAVAILABLE`; `CancellationError` when
    ///   the calling task is cancelled, which also leaves the queue.
    /// - Returns: Cancels the call: it leaves the queue and `completion` gets `CancellationError` (if it has not
    ///   been answered yet). `nil` for a try-lock (`wait` zero or less): it never queues, so there is nothing to
    ///   cancel, and it costs no ticket.
    @discardableResult
    public func acquire(
        key: String,
        session: SessionID,
        wait: Duration,
        connection: ConnectionID,
        completion: @escaping Completion<LockInfo>
    ) -> (@Sendable () -> Void)? {
        guard wait > .zero else {
            self.acquire(
                key: key,
                session: session,
                wait: wait,
                connection: connection,
                ticket: nil,
                completion: completion
            )
            return nil
        }
        let ticket = WaitTicket()
        self.acquire(
            key: key,
            session: session,
            wait: wait,
            connection: connection,
            ticket: ticket,
            completion: completion
        )
        return { self.cancel(ticket) }
    }

    private func acquire(
        key: String,
        session: SessionID,
        wait: Duration,
        connection: ConnectionID,
        ticket: WaitTicket?,
        completion: @escaping Completion<LockInfo>
    ) {
        self.locked { state in
            var effects = state.takeEffects()
            defer { state.reuseEffects(&effects) }
            do {
                try Self.checkServing(state)
                try self.checkBinding(state, session, connection)
                let outcome = state.table.acquire(
                    key: key,
                    session: session,
                    wait: wait,
                    now: self.clock.now(),
                    into: &effects
                )
                switch outcome {
                case .granted(let lock):
                    self.execute(effects, in: &state, reply: .lock(completion, lock))
                case .enqueued(let waiter):
                    state.waiters[waiter] = completion
                    self.execute(effects, in: &state)
                    // A try-lock has no ticket, and the table never queues it.
                    if let ticket, !ticket.enqueued(waiter) {  // cancelled while we were enqueueing
                        self.cancelWait(waiter, in: &state)
                    }
                case .held(let holder, let delayedUntil):
                    // The table may have handed the key over on the way (a lock delay that had ended before the
                    // expiry timer got to it): that grant is carried out although this call is refused.
                    self.execute(effects, in: &state)
                    throw self.lockHeld(key: key, holder: holder, delayedUntil: delayedUntil)
                case .invalidKey(let reason):
                    throw LeaseholdError(code: .invalidArgument, message: "invalid key: \(reason)")
                case .sessionNotFound:
                    throw Self.sessionNotFound(session)
                case .sessionExpired:
                    throw Self.sessionExpired(session)
                case .tooManyWaiters:
                    self.execute(effects, in: &state)  // a hand-over on the way, as for `.held`
                    throw LeaseholdError(
                        code: .resourceExhausted,
                        message: "\(self.configuration.maxWaitersPerKey) calls wait on \(key) already"
                    )
                }
            } catch {
                self.fail(completion, with: error, in: &state)
            }
        }
    }

    /// Cancels an `Acquire`: it leaves the queue if it waits there.
    private func cancel(_ ticket: WaitTicket) {
        if let waiter = ticket.cancel() {
            self.locked { self.cancelWait(waiter, in: &$0) }
        }
    }

    /// Releases `key`, held by `session` with `fencingToken`.
    /// - Returns: The revision of the release.
    /// - Throws: `NOT_LOCK_HOLDER`, `SESSION_EXPIRED`, `NOT_FOUND`, `PERMISSION_DENIED`, `UNAVAILABLE`.
    public func release(
        key: String,
        session: SessionID,
        fencingToken: UInt64,
        connection: ConnectionID,
        completion: @escaping Completion<UInt64>
    ) {
        // Written out rather than through the generic `transact`: passed through it, `completion` was re-abstracted
        // through an allocated thunk on every call. Its effects go into the reused array (``State/effects``).
        self.locked { state in
            var effects = state.takeEffects()
            defer { state.reuseEffects(&effects) }
            do {
                try Self.checkServing(state)
                try self.checkBinding(state, session, connection)
                let outcome = state.table.release(
                    key: key,
                    session: session,
                    fencingToken: fencingToken,
                    now: self.clock.now(),
                    into: &effects
                )
                switch outcome {
                case .released(let revision):
                    self.execute(effects, in: &state, reply: .revision(completion, revision))
                case .notHolder:
                    throw LeaseholdError(
                        code: .notLockHolder,
                        message: "session \(session) does not hold \(key) with token \(fencingToken)"
                    )
                case .sessionNotFound: throw Self.sessionNotFound(session)
                case .sessionExpired: throw Self.sessionExpired(session)
                }
            } catch {
                self.fail(completion, with: error, in: &state)
            }
        }
    }

    /// Ends the current hold of `key` whoever holds it; the holder's session lives on. Needs role `admin`.
    /// - Returns: The lock that was released and the revision of the release.
    /// - Throws: `PERMISSION_DENIED`, `NOT_FOUND`, `UNAVAILABLE`.
    public func forceRelease(
        key: String,
        reason: String,
        principal: Principal,
        completion: @escaping Completion<LockTable.ForcedRelease>
    ) {
        guard principal.hasRole("admin") else {
            completion(
                .failure(
                    LeaseholdError(
                        code: .permissionDenied,
                        message: "ForceRelease needs the role admin; \(principal.name) lacks it"
                    )
                )
            )
            return
        }
        self.transact(
            { state, now in
                let (outcome, effects) = state.table.forceRelease(key: key, now: now)
                switch outcome {
                case .released(let lock, let revision):
                    return (LockTable.ForcedRelease(lock: lock, revision: revision), effects)
                case .notFound: throw LeaseholdError(code: .notFound, message: "nobody holds \(key)")
                }
            },
            completion: { [logger] result in
                if case .success(let released) = result {
                    let lock = released.lock
                    logger.info(
                        "lock force-released",
                        metadata: [
                            "key": "\(key)", "by": "\(principal.name)", "reason": "\(reason)",
                            "session": "\(lock.sessionID)", "owner": "\(lock.owner)", "token": "\(lock.fencingToken)",
                        ]
                    )
                }
                completion(result)
            }
        )
    }

    // MARK: - Queries

    /// The key's holder and queue.
    public func describe(key: String, completion: @escaping Completion<LockTable.Description>) {
        self.transact({ state, _ in (state.table.describe(key: key), []) }, completion: completion)
    }

    /// Whether `fencingToken` is the key's current grant.
    public func validate(key: String, fencingToken: UInt64, completion: @escaping Completion<LockTable.Validation>) {
        self.transact(
            { state, _ in (state.table.validate(key: key, fencingToken: fencingToken), []) },
            completion: completion
        )
    }

    /// Held locks whose key starts with `prefix`, sorted by key.
    public func list(prefix: String, limit: Int?, completion: @escaping Completion<LockTable.Listing>) {
        self.transact(
            { state, _ in
                (
                    LockTable.Listing(
                        locks: state.table.list(prefix: prefix, limit: limit),
                        revision: state.table.revision
                    ), []
                )
            },
            completion: completion
        )
    }

    /// The current revision (tests and metrics).
    public var revision: UInt64 { self.state.withLock { $0.table.revision } }

    /// The number of live sessions (metrics).
    public var sessionCount: Int { self.state.withLock { $0.table.sessionCount } }

    /// The live sessions with the least time left, soonest first (`GET /sessions` on the metrics endpoint, which
    /// `leasehold top` shows). One pass over the sessions under the lock: an operator's query, not a client's.
    /// - Parameter limit: At most this many sessions.
    /// - Returns: The sessions, each with its time left and the locks it holds.
    public func sessionsClosestToExpiry(limit: Int) -> [LockTable.SessionDescription] {
        self.state.withLock { $0.table.sessionsClosestToExpiry(limit: limit, now: self.clock.now()) }
    }

    /// What metrics read at scrape time, in one critical section: the table's gauges and running totals.
    public struct Snapshot: Sendable {
        public var sessions: Int
        public var locksHeld: Int
        public var waiters: Int
        public var revision: UInt64
        public var watchers: Int
        public var statistics: LockTable.Statistics
    }

    /// The gauges and totals metrics export (one lock, at scrape time).
    public var snapshot: Snapshot {
        let watchers = self.hub.watcherCount
        return self.state.withLock {
            Snapshot(
                sessions: $0.table.sessionCount,
                locksHeld: $0.table.lockCount,
                waiters: $0.table.waiterCount,
                revision: $0.table.revision,
                watchers: watchers,
                statistics: $0.table.statistics
            )
        }
    }

    // MARK: - Time

    /// Expires what is due at the clock's current time.
    public func expireDue() {
        self.locked { state in
            guard state.mode == .serving else { return }
            let effects = state.table.expire(now: self.clock.now())
            self.execute(effects, in: &state)
        }
    }

    /// The earliest instant at which ``expireDue()`` may have work.
    public var nextDeadline: Instant? { self.state.withLock { $0.table.nextDeadline } }

    /// Expires sessions, waits and lock delays at their deadlines until the task is cancelled.
    public func runExpiry() async {
        await self.timer.run(nextDeadline: { self.nextDeadline }, expire: { self.expireDue() })
    }

    /// Fails every queued wait with `UNAVAILABLE` and refuses further work; the store stays open for the caller
    /// to close.
    public func stop() {
        let waiters = self.state.withLock { state in
            state.mode = .stopped
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        let error = LeaseholdError(code: .unavailable, message: "server is shutting down")
        for waiter in waiters { waiter(.failure(error)) }
    }

    // MARK: - async forms

    /// ``openSession(ttl:name:owner:connection:completion:)`` for callers in a task.
    public func openSession(
        ttl: Duration,
        name: String,
        owner: String,
        connection: ConnectionID
    ) async throws -> OpenedSession {
        try await Self.awaiting {
            self.openSession(ttl: ttl, name: name, owner: owner, connection: connection, completion: $0)
        }
    }

    /// ``resumeSession(_:secret:connection:completion:)`` for callers in a task.
    public func resumeSession(
        _ id: SessionID,
        secret: [UInt8],
        connection: ConnectionID
    ) async throws -> LockTable.SessionDescription {
        try await Self.awaiting { self.resumeSession(id, secret: secret, connection: connection, completion: $0) }
    }

    /// ``acquire(key:session:wait:connection:completion:)`` for callers in a task; cancelling the task cancels the
    /// call (it leaves the queue and throws `CancellationError`).
    public func acquire(
        key: String,
        session: SessionID,
        wait: Duration,
        connection: ConnectionID
    ) async throws -> LockInfo {
        let ticket = WaitTicket()
        return try await withTaskCancellationHandler {
            try await Self.awaiting {
                self.acquire(
                    key: key,
                    session: session,
                    wait: wait,
                    connection: connection,
                    ticket: ticket,
                    completion: $0
                )
            }
        } onCancel: {
            self.cancel(ticket)
        }
    }

    /// ``describe(key:completion:)`` for callers in a task.
    public func describe(key: String) async throws -> LockTable.Description {
        try await Self.awaiting { self.describe(key: key, completion: $0) }
    }

    private static func awaiting<T: Sendable>(_ start: (@escaping Completion<T>) -> Void) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in start { continuation.resume(with: $0) } }
    }

    // MARK: - Internal

    /// Runs `body` under the state lock, then the replies it queued.
    private func locked<T>(_ body: (inout State) throws -> T) rethrows -> T {
        try self.state.withLockThenRun(body)
    }

    /// Applies a transition and queues its effects in one critical section; `completion` gets the transition's
    /// value once its effects are durable, or its error.
    /// - Parameter reply: How the answer waits for the commit; the default wraps it in a closure, and a call whose
    ///   answer has a ``DurableReply`` case of its own passes that case, which costs no allocation.
    private func transact<T: Sendable>(
        _ transition: (inout State, Instant) throws -> (T, [LockTable.Effect]),
        reply: (@escaping Completion<T>, T) -> DurableReply = { completion, value in
            .waiter { result in completion(result.map { value }.mapError { $0 }) }
        },
        completion: @escaping Completion<T>
    ) {
        self.locked { state in
            do {
                try Self.checkServing(state)
                let (value, effects) = try transition(&state, self.clock.now())
                self.execute(effects, in: &state, reply: reply(completion, value))
            } catch {
                self.fail(completion, with: error, in: &state)
            }
        }
    }

    /// ``transact(_:completion:)`` for a transition with no effects, answered on the calling thread when the gate of
    /// ``whenDurable(in:_:)`` is open: no commit in flight, or the newest one finished.
    /// - Returns: The answer, or `nil` when a commit is in flight (the caller then goes through `transact`).
    private func transactNow<T: Sendable>(
        _ transition: (inout State, Instant) throws -> T
    ) -> Result<T, any Error>? {
        self.state.withLock { state -> Result<T, any Error>? in
            if let commit = state.newestCommit {
                switch commit.result {
                case nil: return nil
                case .failure(let unavailable)?: return .failure(unavailable)
                case .success?: break
                }
            }
            do {
                try Self.checkServing(state)
                return .success(try transition(&state, self.clock.now()))
            } catch {
                return .failure(error)
            }
        }
    }

    /// Answers `completion` with `error` once what the error observed is durable (``whenDurable(in:_:)``), or
    /// with `UNAVAILABLE` when the commit it waited for failed.
    private func fail<T>(_ completion: @escaping Completion<T>, with error: any Error, in state: inout State) {
        self.whenDurable(in: &state) { result in
            switch result {
            case .success: completion(.failure(error))
            case .failure(let unavailable): completion(.failure(unavailable))
            }
        }
    }

    /// The one way a reply leaves the service: `reply` runs once every commit submitted so far is durable. With
    /// nothing in flight it runs right after the state lock is released; otherwise it waits for the newest
    /// commit, which the store finishes after every earlier one. It is told of a failed commit, so that it does
    /// not show what that commit lost.
    private func whenDurable(in state: inout State, _ reply: DurableReply) {
        guard let commit = state.newestCommit else {
            state.afterUnlock.append { reply.deliver(.success(())) }
            return
        }
        if let finished = commit.wait(reply) { state.afterUnlock.append { reply.deliver(finished) } }
    }

    /// ``whenDurable(in:_:)`` for a reply written as a closure.
    private func whenDurable(in state: inout State, _ reply: @escaping PendingCommit.Waiter) {
        self.whenDurable(in: &state, .waiter(reply))
    }

    /// Queues `effects`' mutations in the store (inside the state lock, so in transition order) and arranges
    /// the grants, failures and events: events are published once the mutations are durable, and the grants, the
    /// failures and `reply` go through ``whenDurable(in:_:)``.
    private func execute(
        _ effects: [LockTable.Effect],
        in state: inout State,
        reply: DurableReply? = nil
    ) {
        var mutations: [Mutation] = []
        var grants: [(Completion<LockInfo>, LockInfo)] = []
        var failures: [(Completion<LockInfo>, any Error)] = []
        for effect in effects {
            switch effect {
            case .persist(let mutation):
                mutations.append(mutation)
                if case .removeSession(let id) = mutation { state.bindings.removeValue(forKey: id) }
            case .grant(let waiter, let lock):
                if let continuation = state.waiters.removeValue(forKey: waiter) { grants.append((continuation, lock)) }
            case .fail(let waiter, let failure):
                if let waiter = state.waiters.removeValue(forKey: waiter) {
                    failures.append((waiter, Self.error(for: failure)))
                }
            }
        }
        self.timer.deadlineChanged(to: state.table.nextDeadline)
        if !mutations.isEmpty { self.submit(mutations, in: &state) }
        for (waiter, lock) in grants {
            self.whenDurable(in: &state, .lock(waiter, lock))
        }
        for (waiter, error) in failures { self.fail(waiter, with: error, in: &state) }
        if let reply { self.whenDurable(in: &state, reply) }
    }

    /// Queues one batch in the store and makes it the commit that replies wait for.
    /// The commit itself takes the store's answer (``PendingCommit/stored(_:)``, then ``committed(_:_:)``), so a
    /// batch costs one object and no completion closure; its events are published and logged from its mutations.
    private func submit(_ mutations: [Mutation], in state: inout State) {
        let commit = PendingCommit(mutations, submittedBy: self)
        state.newestCommit = commit
        self.store.submit(mutations, completion: commit.stored)
    }

    /// The store's answer for a batch, on the thread that finished it: publishes and logs the batch's events once
    /// durable, then finishes the commit, which answers every reply waiting for it.
    func committed(_ commit: PendingCommit, _ result: Result<Void, any Error>) {
        // The store completes batches in order, so a failure is recorded before any later batch finishes.
        switch result {
        case .success:
            self.hub.publish(commit.mutations)
            self.log(commit.mutations)
            if self.commitFailed.load(ordering: .acquiring) {
                commit.finish(.failure(LeaseholdError(code: .unavailable, message: "an earlier commit failed; retry")))
            } else {
                commit.finish(.success(()))
            }
        case .failure(let error):
            self.commitFailed.store(true, ordering: .releasing)
            commit.finish(
                .failure(
                    LeaseholdError(
                        code: .unavailable,
                        message: "the store could not commit: \(error)",
                        cause: error
                    )
                )
            )
            self.recover(after: error)
        }
    }

    /// Logs committed events: expiries at `info`, every event at `debug`. Force-releases are logged at `info` by
    /// ``forceRelease(key:reason:principal:completion:)``, which knows who asked and why. The level is read once
    /// per batch, so that a server logging at `info` pays one comparison per event.
    private func log(_ mutations: [Mutation]) {
        let level = self.logger.logLevel
        guard level <= .info else { return }
        for case .event(let event) in mutations where level <= .debug || event.kind == .expired {
            let metadata: Logger.Metadata = [
                "key": "\(event.key)", "session": "\(event.sessionID)", "owner": "\(event.owner)",
                "token": "\(event.fencingToken)", "revision": "\(event.revision)",
            ]
            switch event.kind {
            case .acquired: self.logger.debug("lock granted", metadata: metadata)
            case .released: self.logger.debug("lock released", metadata: metadata)
            case .expired: self.logger.info("lock expired", metadata: metadata)
            case .forceReleased: self.logger.debug("lock force-released (committed)", metadata: metadata)
            }
        }
    }

    /// Leaves a queue, for a cancelled or timed-out call.
    private func cancelWait(_ waiter: WaiterID, in state: inout State) {
        let effects = state.table.cancelWait(waiter)
        if let completion = state.waiters.removeValue(forKey: waiter) {
            self.fail(completion, with: CancellationError(), in: &state)
        }
        self.execute(effects, in: &state)
    }

    /// After a failed commit the table is ahead of the disk: wait for every queued batch, then rebuild the table
    /// from what is durable. Queued waits fail with `UNAVAILABLE`; sessions get a fresh TTL, as after a restart.
    private func recover(after error: any Error) {
        let started = self.state.withLock { state -> Bool in
            guard state.mode == .serving else { return false }
            state.mode = .recovering
            return true
        }
        guard started else { return }
        self.logger.error("store commit failed; rebuilding lock state from disk", metadata: ["error": "\(error)"])
        self.store.submit([]) { [self] _ in
            let persisted: PersistedState
            do {
                persisted = try self.store.load()
            } catch {
                self.logger.critical("cannot reload lock state; refusing work", metadata: ["error": "\(error)"])
                self.unrecoverable.continuation.yield(error)
                return
            }
            let waiters = self.state.withLock { state in
                defer { state.waiters.removeAll() }
                state.table = LockTable(restoring: persisted, configuration: self.configuration, now: self.clock.now())
                state.newestCommit = nil
                self.commitFailed.store(false, ordering: .releasing)
                if state.mode == .recovering { state.mode = .serving }
                return Array(state.waiters.values)
            }
            let unavailable = LeaseholdError(code: .unavailable, message: "the store failed; retry")
            for waiter in waiters { waiter(.failure(unavailable)) }
            self.hub.reset(lastPublished: persisted.revision)
            self.logger.info("lock state rebuilt", metadata: ["revision": "\(persisted.revision)"])
        }
    }

    private func lockHeld(key: String, holder: LockInfo?, delayedUntil: Instant?) -> LeaseholdError {
        if let holder {
            return LeaseholdError(
                code: .lockHeld,
                message:
                    "\(key) is held by session \(holder.sessionID) (\(holder.owner)) with token \(holder.fencingToken)",
                holder: holder
            )
        }
        let remaining = delayedUntil.map { $0 - self.clock.now() } ?? .zero
        return LeaseholdError(
            code: .lockHeld,
            message: "\(key) is free but in its lock delay for another \(remaining.wholeMilliseconds) ms"
        )
    }

    private static func checkServing(_ state: State) throws {
        switch state.mode {
        case .serving: return
        case .recovering:
            throw LeaseholdError(code: .unavailable, message: "the store failed; the server is recovering")
        case .stopped: throw LeaseholdError(code: .unavailable, message: "server is shutting down")
        }
    }

    /// Session-bound calls work only on the connection that opened or last resumed the session (docs/protocol.md).
    /// Sessions the table does not know get the table's own answer (`NOT_FOUND`, `SESSION_EXPIRED`).
    private func checkBinding(_ state: State, _ id: SessionID, _ connection: ConnectionID) throws {
        guard state.bindings[id] != connection, state.table.session(id, now: self.clock.now()) != nil else { return }
        throw LeaseholdError(
            code: .permissionDenied,
            message: "session \(id) is not bound to this connection; call ResumeSession with its secret first"
        )
    }

    private static func error(for failure: LockTable.WaitFailure) -> any Error {
        switch failure {
        case .timedOut: LeaseholdError(code: .deadlineExceeded, message: "the wait for the lock ran out")
        case .sessionExpired: LeaseholdError(code: .sessionExpired, message: "the waiting session expired")
        case .sessionClosed: LeaseholdError(code: .sessionExpired, message: "the waiting session was closed")
        case .cancelled:
            LeaseholdError(code: .cancelled, message: "a newer Acquire of the same session took this wait's place")
        }
    }

    private static func sessionNotFound(_ id: SessionID) -> LeaseholdError {
        LeaseholdError(code: .notFound, message: "no session \(id)")
    }

    private static func sessionExpired(_ id: SessionID) -> LeaseholdError {
        LeaseholdError(code: .sessionExpired, message: "session \(id) has expired")
    }

    static func hash(_ secret: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: secret)) }
}

/// Links a queued `Acquire` to its task's cancellation handler, whichever comes first.
private final class WaitTicket: Sendable {
    private enum State { case starting, waiting(WaiterID), cancelled }
    private let state = Mutex(State.starting)

    /// Records the waiter; returns `false` when the task was cancelled first.
    func enqueued(_ waiter: WaiterID) -> Bool {
        self.state.withLock { state in
            if case .cancelled = state { return false }
            state = .waiting(waiter)
            return true
        }
    }

    /// Marks the ticket cancelled; returns the waiter to remove, if it was queued.
    func cancel() -> WaiterID? {
        self.state.withLock { state in
            defer { state = .cancelled }
            if case .waiting(let waiter) = state { return waiter }
            return nil
        }
    }
}

/// A session just opened, with its secret: the only time the secret leaves the server.
public struct OpenedSession: Sendable {
    /// The session.
    public var info: LockTable.SessionDescription
    /// The random secret that resumes it; the server keeps only its hash.
    public var secret: [UInt8]
    /// The session's id.
    public var id: SessionID { self.info.id }
}
