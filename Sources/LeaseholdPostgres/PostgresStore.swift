internal import Dispatch
internal import Foundation
internal import LeaseholdConcurrency
public import LeaseholdCore
public import LeaseholdStore
public import Logging
internal import NIOCore
internal import NIOPosix
internal import PostgresNIO
internal import Synchronization

/// The PostgreSQL implementation of ``Store``, for several `leasehold serve` processes on one database (one active
/// writer at a time; docs/ha.md).
///
/// ```swift
/// let store = try await PostgresStore.open(configuration: .init(endpoint: endpoint, epoch: epoch), logger: logger)
/// let state = try store.load()
/// store.submit([.event(grant)]) { result in
///     // durable (or failed) now; reply to the client
/// }
/// store.close()
/// ```
///
/// One writer task takes everything queued and commits it as **one statement** (data-modifying CTEs: atomic
/// without `BEGIN`/`COMMIT`, one round trip): the events, the sessions, the net change of the `locks` projection,
/// and `meta.revision`, moved only if the group's first event is above it. Every statement that writes first
/// takes `leader` `FOR KEY SHARE` where `epoch` is this store's epoch: once another node has taken over (a newer
/// epoch), nothing of this store is ever written again, and each such commit fails.
///
/// The writer task runs on the event loop of the store's connections (``EventLoopTaskExecutor``), and so do the
/// completions, in submission order: a commit wakes that loop to write and the client's loop to answer, and no
/// thread in between. A group with a barrier (an empty batch) completes on a queue of its own instead, since a
/// barrier's completion may block: the lock service reloads its state there with ``load()``, which needs the loop.
/// The store's loop is its own, so that ``load()`` may block any other thread, an event loop included.
public final class PostgresStore: Store {
    /// How to reach the database and how to maintain it.
    public struct Configuration: Sendable {
        public var endpoint: PostgresEndpoint
        /// The writer's epoch, from the leader lease: every write is refused once the database holds a newer one.
        public var epoch: UInt64
        /// Keep at most this many events for watchers resuming from the past.
        public var eventRetention = 100_000
        /// Prune events older than this.
        public var eventMaxAge = Duration.seconds(7 * 24 * 3600)
        /// Prune at most this many events per statement.
        public var retentionChunkSize = 1_000
        /// How long to wait for a connection.
        public var connectTimeout = Duration.seconds(5)

        public init(endpoint: PostgresEndpoint, epoch: UInt64) {
            self.endpoint = endpoint
            self.epoch = epoch
        }
    }

    typealias Completion = @Sendable (Result<Void, any Error>) -> Void

    private enum Work: Sendable {
        case batch([Mutation], Completion)
        case enforceRetention(Completion)

        var completion: Completion {
            switch self {
            case .batch(_, let completion), .enforceRetention(let completion): completion
            }
        }
    }

    private struct State {
        var pending: [Work] = []
        var closing = false
        var wake: CheckedContinuation<Void, Never>?
        var eventsSincePrune = 0
        var commits = CommitStatistics()
        /// A commit through the prepared statement failed: postgres-nio then answers every later use of that name on
        /// the connection with the same error, without asking the server, so the rest of this store's term sends
        /// the statement unnamed (parsed each time, as before it was prepared).
        var commitUnprepared = false
    }

    /// The store's own event loop: a caller blocked in ``load()`` never blocks the loop its queries run on.
    static let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// How the store was opened.
    public let configuration: Configuration
    private let writer: PostgresConnection
    private let reader: PostgresConnection
    private let logger: Logger
    private let state = Mutex(State())
    private let completions = DispatchQueue(label: "leasehold-postgres-completions")
    private let exited = Mutex<Task<Void, Never>?>(nil)

    private init(configuration: Configuration, writer: PostgresConnection, reader: PostgresConnection, logger: Logger) {
        self.configuration = configuration
        self.writer = writer
        self.reader = reader
        self.logger = logger
    }

    /// Connects (a writer and a reader connection), migrates the schema, and starts the writer.
    /// - Parameters:
    ///   - configuration: The database and the writer's epoch.
    ///   - logger: Where to log.
    /// - Returns: The open store.
    /// - Throws: PostgreSQL's errors when it cannot connect or migrate; ``PostgresStoreError`` for a newer schema.
    public static func open(configuration: Configuration, logger: Logger) async throws -> PostgresStore {
        var logger = logger
        logger[metadataKey: "store.url"] = "\(configuration.endpoint)"
        try await Self.migrate(
            endpoint: configuration.endpoint,
            connectTimeout: configuration.connectTimeout,
            logger: logger
        )
        let writer = try await Self.connect(
            configuration.endpoint,
            timeout: configuration.connectTimeout,
            logger: logger
        )
        let reader: PostgresConnection
        do {
            reader = try await Self.connect(
                configuration.endpoint,
                timeout: configuration.connectTimeout,
                logger: logger
            )
        } catch {
            try? await writer.close()
            throw error
        }
        let store = PostgresStore(configuration: configuration, writer: writer, reader: reader, logger: logger)
        let executor = EventLoopTaskExecutor(writer.eventLoop)
        store.exited.withLock { $0 = Task(executorPreference: executor) { await store.runWriter() } }
        logger.debug("store opened", metadata: ["epoch": "\(configuration.epoch)"])
        return store
    }

    /// Creates or upgrades the schema; every node does it at start, one at a time.
    /// - Throws: PostgreSQL's errors; ``PostgresStoreError`` for a schema newer than this build.
    public static func migrate(endpoint: PostgresEndpoint, connectTimeout: Duration, logger: Logger) async throws {
        let connection = try await Self.connect(endpoint, timeout: connectTimeout, logger: logger)
        do {
            try await PostgresSchema.migrate(connection, logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }

    deinit {
        self.close()
    }

    // MARK: - Store

    /// Reads the revision, the session counter, the sessions and the held locks in one snapshot, on a connection
    /// of its own, blocking the caller (never the store's event loop).
    /// - Throws: ``StoreClosed``; PostgreSQL's errors.
    public func load() throws -> PersistedState {
        guard !self.state.withLock({ $0.closing }) else { throw StoreClosed() }
        let endpoint = self.configuration.endpoint
        let logger = self.logger
        let loop = Self.eventLoopGroup.next()
        let future = PostgresConnection.connect(
            on: loop,
            configuration: Self.connectionConfiguration(endpoint, timeout: self.configuration.connectTimeout),
            id: 0,
            logger: logger
        ).flatMap { connection in
            Self.load(connection, logger: logger).always { _ in connection.close().whenComplete { _ in _ = connection }
            }
        }
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<PersistedState, any Error>?>(nil)
        future.whenComplete { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// Queues `mutations`; see ``Store/submit(_:completion:)``. Batches queued while a commit runs are committed
    /// together in one statement; if it fails, every batch in it with mutations fails with the same error and
    /// nothing of them is written. Barriers always succeed once everything before them has completed.
    public func submit(_ mutations: [Mutation], completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        self.enqueue(.batch(mutations, completion))
    }

    /// Reads committed events with `revision >= start` whose key starts with `prefix`, oldest first, and the
    /// compact revision, in one statement (one snapshot).
    /// - Throws: ``StoreClosed``; PostgreSQL's errors.
    public func events(prefix: String, from start: UInt64, limit: Int) async throws -> EventPage {
        guard !self.state.withLock({ $0.closing }) else { throw StoreClosed() }
        let start = Int64(clamping: start)
        let limit = Int64(max(limit, 0))
        let query: PostgresQuery = """
            SELECT m.compacted_through, e.revision, e.type, e.key, e.session_id, e.fencing_token, e.owner, e.at_ms
            FROM meta m LEFT JOIN LATERAL (
                SELECT * FROM events WHERE revision >= \(start) AND starts_with(key, \(prefix))
                ORDER BY revision LIMIT \(limit)
            ) e ON true
            """
        var events: [Event] = []
        var compacted: Int64 = 0
        let rows = try await self.reader.query(query, logger: self.logger)
        for try await (through, revision, type, key, session, token, owner, at) in rows.decode(
            (Int64, Int64?, Int16?, String?, Int64?, Int64?, String?, Int64?).self
        ) {
            compacted = through
            guard let revision, let type, let key, let session, let token, let owner, let at,
                let kind = Event.Kind(rawValue: UInt8(clamping: type))
            else { continue }
            events.append(
                Event(
                    revision: UInt64(revision),
                    kind: kind,
                    key: key,
                    sessionID: SessionID(UInt64(session)),
                    fencingToken: UInt64(token),
                    owner: owner,
                    at: WallTime(millisecondsSince1970: UInt64(max(at, 0)))
                )
            )
        }
        return EventPage(events: events, compactRevision: UInt64(compacted) + 1)
    }

    /// Prunes every event due under the retention limits now, after the work queued before it.
    /// - Throws: ``StoreClosed``; ``PostgresStoreError`` when the epoch was superseded; PostgreSQL's errors.
    public func enforceRetention() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.enqueue(.enforceRetention { continuation.resume(with: $0) })
        }
    }

    /// The group commits' durations and batch counts so far, failed ones included.
    public var commitStatistics: CommitStatistics {
        self.state.withLock { $0.commits }
    }

    /// Stops accepting work; the writer finishes what is queued, then closes the connections. Does not wait: a
    /// node that steps down must not wait for a database it may no longer reach. Queued work that has not
    /// finished after 2 s fails with a closed connection. Calling it again does nothing.
    public func close() {
        let wake = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.closing else { return nil }
            state.closing = true
            defer { state.wake = nil }
            return state.wake
        }
        wake?.resume()
        let writer = self.writer
        let reader = self.reader
        Self.eventLoopGroup.next().scheduleTask(in: .seconds(2)) {
            // The completions keep the connections alive until closed (PostgresConnection asserts it in deinit).
            writer.close().whenComplete { _ in _ = writer }
            reader.close().whenComplete { _ in _ = reader }
        }
    }

    /// Waits until the writer has finished and closed its connections (tests and orderly shutdown).
    public func closed() async {
        self.close()
        await self.exited.withLock { $0 }?.value
    }

    // MARK: - Writer

    private func enqueue(_ work: Work) {
        let (accepted, wake) = self.state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !state.closing else { return (false, nil) }
            state.pending.append(work)
            defer { state.wake = nil }
            return (true, state.wake)
        }
        wake?.resume()
        if !accepted { work.completion(.failure(StoreClosed())) }
    }

    private func nextWork() async -> (work: [Work], closing: Bool) {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = self.state.withLock { state -> Bool in
                if !state.pending.isEmpty || state.closing { return true }
                state.wake = continuation
                return false
            }
            if ready { continuation.resume() }
        }
        return self.state.withLock { state in
            defer { state.pending = [] }
            return (state.pending, state.closing)
        }
    }

    private func runWriter() async {
        while true {
            let (work, closing) = await self.nextWork()
            if work.isEmpty, closing { break }
            var index = work.startIndex
            while index < work.endIndex {
                switch work[index] {
                case .batch:
                    var group: [([Mutation], Completion)] = []
                    while index < work.endIndex, case .batch(let mutations, let completion) = work[index] {
                        group.append((mutations, completion))
                        index += 1
                    }
                    await self.commit(group)
                case .enforceRetention(let completion):
                    index += 1
                    completion(await Self.result { try await self.pruneAll() })
                }
            }
            if !closing, self.pruneIsDue() {
                do {
                    _ = try await self.pruneChunk()
                } catch {
                    self.logger.info("event pruning failed", metadata: ["error": "\(error)"])
                }
            }
        }
        try? await self.writer.close()
        try? await self.reader.close()
        self.logger.debug("store writer stopped")
    }

    private func commit(_ group: [([Mutation], Completion)]) async {
        let batches = group.map(\.0)
        guard batches.contains(where: { !$0.isEmpty }) else {
            await self.complete(group, .success(()))
            return
        }
        let started = ContinuousClock.now
        let result = await Self.result { try await self.commit(batches) }
        let took = ContinuousClock.now - started
        let carried = batches.count(where: { !$0.isEmpty })
        // Counted before the completions run, as SQLiteStore does, so that a caller sees its own commit counted.
        self.state.withLock { state in
            state.commits.record(took: took, batches: carried)
            if case .success(let inserted) = result { state.eventsSincePrune += inserted }
        }
        if case .failure(let error) = result {
            self.logger.info(
                "group commit failed; nothing of it was written",
                metadata: ["batches": "\(group.count)", "error": "\(error)"]
            )
        }
        await self.complete(group, result.map { _ in () })
    }

    /// Runs a group's completions in order, as one ``WakeupBatch`` (as the SQLite store's writer does): the answers
    /// they post to event loops wake each loop once, after the last one. A batch with no mutations wrote nothing that
    /// could fail, and succeeds.
    ///
    /// They run here, on the store's loop, unless the group holds a barrier, whose completion may block: then on the
    /// completion queue, and the writer waits for them, so that the next group's completions still come after.
    private func complete(_ group: [([Mutation], Completion)], _ result: Result<Void, any Error>) async {
        let run: @Sendable () -> Void = {
            WakeupBatch.run {
                for (mutations, completion) in group { completion(mutations.isEmpty ? .success(()) : result) }
            }
        }
        guard group.contains(where: { $0.0.isEmpty }) else { return run() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            self.completions.async {
                run()
                continuation.resume()
            }
        }
    }

    /// Commits `batches` in one statement (``CommitStatement``).
    /// - Returns: The number of events written.
    private func commit(_ batches: [[Mutation]]) async throws -> Int {
        let plan = try CommitPlan(batches)
        guard !plan.isEmpty else { return 0 }
        let statement = CommitStatement(plan: plan, epoch: Int64(bitPattern: self.configuration.epoch))
        var applied: Int64 = 0
        if self.state.withLock({ $0.commitUnprepared }) {
            let query = PostgresQuery(unsafeSQL: CommitStatement.sql, binds: try statement.makeBindings())
            for try await count in try await self.writer.query(query, logger: self.logger).decode(Int64.self) {
                applied = count
            }
        } else {
            do {
                for try await count in try await self.writer.execute(statement, logger: self.logger) {
                    applied = count
                }
            } catch {
                self.state.withLock { $0.commitUnprepared = true }
                throw error
            }
        }
        guard applied == 1 else {
            throw try await self.refusal(
                epoch: statement.epoch,
                first: statement.firstRevision,
                lowestOpened: statement.lowestOpened
            )
        }
        return plan.events.count
    }

    /// Says why a commit wrote nothing.
    private func refusal(epoch: Int64, first: Int64, lowestOpened: Int64) async throws -> PostgresStoreError {
        let rows = try await self.writer.query(
            "SELECT l.epoch, m.revision, m.last_session_id FROM leader l, meta m",
            logger: self.logger
        )
        for try await (current, revision, lastSession) in rows.decode((Int64, Int64, Int64).self) {
            if current != epoch {
                return PostgresStoreError(
                    message: "epoch \(epoch) was superseded by epoch \(current): another node is active"
                )
            }
            if first != 0, revision >= first {
                return PostgresStoreError(message: "event revision \(first) is not above meta.revision \(revision)")
            }
            return PostgresStoreError(
                message: "session id \(lowestOpened) is not above meta.last_session_id \(lastSession)"
            )
        }
        return PostgresStoreError(message: "the leader or meta row is missing")
    }

    // MARK: - Retention

    /// Pruning is checked every 1% of the count limit (at least every event, at most every chunk).
    private func pruneIsDue() -> Bool {
        let slack = max(1, min(self.configuration.eventRetention / 100, self.configuration.retentionChunkSize))
        return self.state.withLock { state in
            guard state.eventsSincePrune >= slack else { return false }
            state.eventsSincePrune = 0
            return true
        }
    }

    private func pruneAll() async throws {
        while try await self.pruneChunk() > 0 {}
    }

    /// Prunes the longest run of oldest events that are beyond the count limit or older than the age limit, at
    /// most one chunk, and records the highest pruned revision as `meta.compacted_through`, in one statement
    /// guarded by the epoch. Only a prefix of the log is ever pruned: the events above `compacted_through` have no
    /// gap.
    /// - Returns: The number of events pruned.
    private func pruneChunk() async throws -> Int {
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        let cutoff = now - Int64(self.configuration.eventMaxAge.wholeMilliseconds)
        let retention = Int64(max(self.configuration.eventRetention, 0))
        let chunk = Int64(max(self.configuration.retentionChunkSize, 1))
        let epoch = Int64(bitPattern: self.configuration.epoch)
        // Revisions are contiguous above compacted_through: the count limit is a revision bound.
        let query: PostgresQuery = """
            WITH guard AS (
                SELECT epoch FROM leader WHERE id = 1 AND epoch = \(epoch) FOR KEY SHARE
            ), oldest AS (
                SELECT e.revision, (e.revision <= m.revision - \(retention) OR e.at_ms < \(cutoff)) AS due
                FROM events e, meta m ORDER BY e.revision LIMIT \(chunk)
            ), upto AS (
                SELECT COALESCE(
                    (SELECT min(revision) - 1 FROM oldest WHERE NOT due),
                    (SELECT max(revision) FROM oldest)) AS revision
            ), deleted AS (
                DELETE FROM events WHERE revision <= (SELECT revision FROM upto) AND EXISTS (SELECT 1 FROM guard)
                RETURNING revision
            ), compacted AS (
                UPDATE meta SET compacted_through = GREATEST(compacted_through, (SELECT max(revision) FROM deleted))
                WHERE EXISTS (SELECT 1 FROM deleted)
            )
            SELECT (SELECT count(*) FROM deleted)::int8, (SELECT count(*) FROM guard)::int8
            """
        var deleted: Int64 = 0
        var guarded: Int64 = 0
        for try await (count, guardRows) in try await self.writer.query(query, logger: self.logger).decode(
            (Int64, Int64).self
        ) {
            deleted = count
            guarded = guardRows
        }
        guard guarded == 1 else {
            throw PostgresStoreError(message: "epoch \(epoch) was superseded: another node is active")
        }
        if deleted > 0 { self.logger.debug("pruned events", metadata: ["count": "\(deleted)"]) }
        return Int(deleted)
    }

    // MARK: - Load

    private static func load(_ connection: PostgresConnection, logger: Logger) -> EventLoopFuture<PersistedState> {
        let counters: PostgresQuery = """
            SELECT GREATEST(revision,
                    COALESCE((SELECT max(revision) FROM events), 0),
                    COALESCE((SELECT max(fencing_token) FROM locks), 0)),
                GREATEST(last_session_id, COALESCE((SELECT max(id) FROM sessions), 0))
            FROM meta
            """
        let locks: PostgresQuery = """
            SELECT l.key, l.session_id, l.fencing_token, l.owner, l.acquired_at_ms, s.ttl_ms
            FROM locks l JOIN sessions s ON s.id = l.session_id ORDER BY l.key
            """
        return connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger).flatMap { _ in
            connection.query(counters, logger: logger)
        }.flatMap { counters in
            connection.query("SELECT id, secret_hash, ttl_ms, owner, name FROM sessions ORDER BY id", logger: logger)
                .map { (counters, $0) }
        }.flatMap { counters, sessions in
            connection.query(locks, logger: logger).map { (counters, sessions, $0) }
        }.flatMap { counters, sessions, locks in
            connection.query("COMMIT", logger: logger).map { _ in (counters, sessions, locks) }
        }.flatMapThrowing { counters, sessions, locks in
            guard let row = counters.rows.first else { throw PostgresStoreError(message: "the meta row is missing") }
            let (revision, lastSession) = try row.decode((Int64, Int64).self)
            var state = PersistedState(
                revision: UInt64(revision),
                lastSessionID: SessionID(UInt64(lastSession)),
                sessions: [],
                locks: []
            )
            for row in sessions.rows {
                let (id, hash, ttl, owner, name) = try row.decode((Int64, ByteBuffer, Int64, String, String).self)
                state.sessions.append(
                    SessionRecord(
                        id: SessionID(UInt64(id)),
                        secretHash: Array(buffer: hash),
                        ttl: .milliseconds(ttl),
                        owner: owner,
                        name: name
                    )
                )
            }
            for row in locks.rows {
                let (key, session, token, owner, at, ttl) = try row.decode(
                    (String, Int64, Int64, String, Int64, Int64).self
                )
                state.locks.append(
                    LockInfo(
                        key: key,
                        sessionID: SessionID(UInt64(session)),
                        fencingToken: UInt64(token),
                        owner: owner,
                        acquiredAt: WallTime(millisecondsSince1970: UInt64(max(at, 0))),
                        sessionTTL: .milliseconds(ttl)
                    )
                )
            }
            return state
        }
    }

    private static func result<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    // MARK: - Connections

    static func connectionConfiguration(
        _ endpoint: PostgresEndpoint,
        timeout: Duration
    ) -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: endpoint.host,
            port: endpoint.port,
            username: endpoint.user,
            password: endpoint.password,
            database: endpoint.database,
            tls: .disable
        )
        configuration.options.connectTimeout = TimeAmount.milliseconds(timeout.wholeMilliseconds)
        return configuration
    }

    static func connect(
        _ endpoint: PostgresEndpoint,
        timeout: Duration,
        logger: Logger
    ) async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            on: Self.eventLoopGroup.next(),
            configuration: Self.connectionConfiguration(endpoint, timeout: timeout),
            id: 1,
            logger: logger
        )
    }
}
