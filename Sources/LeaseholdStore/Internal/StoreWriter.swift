internal import Dispatch
internal import Foundation
internal import LeaseholdConcurrency
internal import LeaseholdCore
internal import LeaseholdSQLite
internal import Logging
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The one thread that writes: a queue of work, a group-commit loop, and retention between commits.
///
/// Callers append to ``State/pending`` under a lock, so the queue keeps their order. The writer takes everything
/// queued at once; runs of consecutive batches become one transaction (one sync for all of them), and their
/// completions then run in queue order. When events are due for pruning the writer deletes one bounded chunk after
/// each group and keeps going while the queue is empty, so commits wait for at most one chunk.
///
/// The ``WriterDatabase`` crosses to the thread once, through ``handoff``, and from then on is a local of the
/// thread: nothing else can reach the writer connection.
final class StoreWriter: Sendable {
    typealias Completion = @Sendable (Result<Void, any Error>) -> Void

    /// One item of the queue.
    enum Work: Sendable {
        /// Mutations to commit; empty is a barrier.
        case batch([Mutation], Completion)
        /// Prune every event due, chunk after chunk, then complete.
        case enforceRetention(Completion)
        /// Run `body` with the writer connection, outside any transaction (tests).
        case withConnection(@Sendable (Connection) throws -> Void, Completion)

        var completion: Completion {
            switch self {
            case .batch(_, let completion), .enforceRetention(let completion), .withConnection(_, let completion):
                return completion
            }
        }
    }

    struct State {
        var pending: [Work] = []
        /// The array the writer emptied after its last take, swapped in for ``pending`` at the next take: callers
        /// append into memory that is already there instead of growing a new array every commit.
        var spare: [Work] = []
        /// Set by ``close()``: no more work is accepted, the writer drains the queue and exits.
        var closing = false
        /// The writer found the queue empty and sleeps (or is about to) on ``wakeup``.
        var writerIsWaiting = false
        var writerThread: pthread_t?
        var statistics = SQLiteStore.Statistics()
    }

    /// How often an idle writer checks whether events have aged past the limit.
    static let idleRetentionInterval: DispatchTimeInterval = .seconds(60)

    private let state = Mutex(State())
    /// Signalled when work arrives for a waiting writer, or at close.
    private let wakeup = DispatchSemaphore(value: 0)
    /// Signalled when the thread has closed the database and is about to exit.
    private let exited = DispatchSemaphore(value: 0)
    private let handoff: Mutex<WriterDatabase?>
    private let logger: Logger

    /// - Parameters:
    ///   - database: The opened database; only the writer thread uses it from now on.
    ///   - logger: Where to log.
    init(database: sending WriterDatabase, logger: Logger) {
        self.handoff = Mutex(database)
        self.logger = logger
    }

    /// Starts the writer thread. Call once.
    func start() {
        let thread = Thread { [self] in self.run() }
        thread.name = "leasehold-store-writer"
        thread.start()
    }

    /// A snapshot of the counters.
    var statistics: SQLiteStore.Statistics {
        self.state.withLock { $0.statistics }
    }

    // MARK: - Inbound

    /// Appends `work` to the queue, or completes it at once with ``StoreClosed`` after ``close()``.
    func enqueue(_ work: Work) {
        let (accepted, wake) = self.state.withLock { state -> (Bool, Bool) in
            guard !state.closing else { return (false, false) }
            state.pending.append(work)
            let wake = state.writerIsWaiting
            state.writerIsWaiting = false
            return (true, wake)
        }
        if wake { self.wakeup.signal() }
        if !accepted { work.completion(.failure(StoreClosed())) }
    }

    /// Stops accepting work and waits until the writer has finished what was queued and closed the database.
    ///
    /// Called on the writer thread itself (from a completion), it only stops accepting work: the writer drains
    /// the queue and exits after the completion returns. Calling it again does nothing more.
    func close() {
        let (wake, onWriterThread) = self.state.withLock { state -> (Bool, Bool) in
            state.closing = true
            let wake = state.writerIsWaiting
            state.writerIsWaiting = false
            let onWriterThread = state.writerThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
            return (wake, onWriterThread)
        }
        if wake { self.wakeup.signal() }
        guard !onWriterThread else { return }
        self.exited.wait()
        self.exited.signal()  // let every other caller of close() through too
    }

    // MARK: - Writer thread

    private func run() {
        self.state.withLock { $0.writerThread = pthread_self() }
        guard let database = self.handoff.withLock({ $0.take() }) else {
            preconditionFailure("the writer thread started twice")
        }
        var retentionDue = self.checkRetention(database)
        // Reused every turn, so that a commit allocates no arrays of its own (see ``GroupBuffers``).
        var buffers = GroupBuffers()
        while true {
            let (taken, closing) = self.state.withLock { state -> ([Work], Bool) in
                var work: [Work] = []
                swap(&work, &state.spare)
                swap(&work, &state.pending)
                if work.isEmpty, !state.closing, !retentionDue { state.writerIsWaiting = true }
                return (work, state.closing)
            }
            var work = consume taken
            defer {
                // Hand the emptied array back for the callers to fill next (a burst's memory is not kept).
                if work.capacity <= Self.spareCapacityKept {
                    work.removeAll(keepingCapacity: true)
                    self.state.withLock { state in
                        if state.spare.capacity < work.capacity { swap(&state.spare, &work) }
                    }
                }
            }
            if work.isEmpty {
                if closing { break }
                if retentionDue {
                    retentionDue = self.pruneChunk(database)
                } else if self.wakeup.wait(timeout: .now() + Self.idleRetentionInterval) == .timedOut {
                    self.state.withLock { $0.writerIsWaiting = false }
                    retentionDue = self.checkRetention(database)
                }
                continue
            }
            if self.process(work, database, &buffers) { retentionDue = true }
            if retentionDue, !closing { retentionDue = self.pruneChunk(database) }
        }
        database.close()
        self.logger.debug("store writer stopped")
        self.exited.signal()
    }

    /// The largest queue array kept for reuse between takes.
    private static var spareCapacityKept: Int { 4_096 }

    /// The array one group commit's batches are gathered in, owned by the writer thread and emptied (keeping its
    /// memory) after each group. The completions stay in the taken work: copied into an array of their own, each
    /// closure would be re-abstracted through an allocated thunk.
    struct GroupBuffers {
        var batches: [[Mutation]] = []

        mutating func clear() {
            self.batches.removeAll(keepingCapacity: self.batches.capacity <= StoreWriter.spareCapacityKept)
        }
    }

    /// Runs the taken work in order.
    /// - Returns: Whether events are due for pruning after the commits.
    private func process(_ work: [Work], _ database: WriterDatabase, _ buffers: inout GroupBuffers) -> Bool {
        var retentionDue = false
        var index = work.startIndex
        while index < work.endIndex {
            switch work[index] {
            case .batch:
                defer { buffers.clear() }
                let first = index
                while index < work.endIndex, case .batch(let mutations, _) = work[index] {
                    buffers.batches.append(mutations)
                    index += 1
                }
                if self.commit(buffers.batches, work[first..<index], database) { retentionDue = true }
            case .enforceRetention(let completion):
                index += 1
                completion(Result { try self.pruneAll(database) })
            case .withConnection(let body, let completion):
                index += 1
                completion(Result { try body(database.connection) })
            }
        }
        return retentionDue
    }

    /// Commits one group and completes its batches in order.
    /// - Parameters:
    ///   - batches: The group's mutations, batch by batch.
    ///   - group: The group's work items (batches), whose completions run in order.
    /// - Returns: Whether events are due for pruning afterwards.
    private func commit(_ batches: [[Mutation]], _ group: ArraySlice<Work>, _ database: WriterDatabase) -> Bool {
        // Barriers only: every earlier batch completed in an earlier group, so they are durable already.
        guard batches.contains(where: { !$0.isEmpty }) else {
            self.state.withLock { $0.statistics.batches += batches.count }
            Self.complete(group) { _ in .success(()) }
            return false
        }
        let started = ContinuousClock.now
        let carried = batches.count(where: { !$0.isEmpty })
        do {
            try database.commit(batches)
            let took = ContinuousClock.now - started
            self.state.withLock {
                $0.statistics.transactions += 1
                $0.statistics.batches += batches.count
                $0.statistics.commits.record(took: took, batches: carried)
            }
            Self.complete(group) { _ in .success(()) }
            return self.checkRetention(database)
        } catch {
            // Barriers in the group succeed: they only wait for the batches before them to finish, and whether a
            // barrier shares a failing group is a matter of timing. Every batch with mutations fails.
            let failed = batches.count(where: { !$0.isEmpty })
            let took = ContinuousClock.now - started
            self.state.withLock {
                $0.statistics.commits.record(took: took, batches: carried)
                $0.statistics.failedTransactions += 1
                $0.statistics.failedBatches += failed
                $0.statistics.batches += batches.count - failed
            }
            self.logger.info(
                "group commit failed and was rolled back",
                metadata: ["batches": "\(failed)", "error": "\(error)"]
            )
            Self.complete(group) { index in batches[index].isEmpty ? .success(()) : .failure(error) }
            return false
        }
    }

    /// Runs a group's completions in order, as one ``WakeupBatch``: the answers they post to event loops wake each
    /// loop once, after the last completion, instead of once per answer.
    /// - Parameters:
    ///   - group: The group's work items.
    ///   - result: The result of the item at an offset from the group's start.
    private static func complete(_ group: ArraySlice<Work>, _ result: (Int) -> Result<Void, any Error>) {
        WakeupBatch.run {
            for (offset, work) in group.enumerated() { work.completion(result(offset)) }
        }
    }

    // MARK: - Retention

    private func checkRetention(_ database: WriterDatabase) -> Bool {
        do {
            return try database.hasRetentionBacklog(now: Self.wallClockNow())
        } catch {
            self.logger.info("cannot check event retention", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Prunes one chunk.
    /// - Returns: Whether more is due.
    private func pruneChunk(_ database: WriterDatabase) -> Bool {
        do {
            let now = Self.wallClockNow()
            let deleted = try database.pruneChunk(now: now)
            guard deleted > 0 else { return false }
            self.state.withLock {
                $0.statistics.retentionTransactions += 1
                $0.statistics.prunedEvents += deleted
            }
            return try database.hasRetentionBacklog(now: now)
        } catch {
            // Typically SQLITE_FULL or SQLITE_BUSY; the next commit checks again.
            self.logger.info("event pruning failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Prunes until nothing is due.
    private func pruneAll(_ database: WriterDatabase) throws {
        while true {
            let now = Self.wallClockNow()
            let deleted = try database.pruneChunk(now: now)
            guard deleted > 0 else { return }
            self.state.withLock {
                $0.statistics.retentionTransactions += 1
                $0.statistics.prunedEvents += deleted
            }
        }
    }

    static func wallClockNow() -> WallTime {
        WallTime(millisecondsSince1970: UInt64(max(Date().timeIntervalSince1970 * 1_000, 0)))
    }
}
