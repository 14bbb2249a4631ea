import LeaseholdConcurrency
public import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire
import NIOCore
import Synchronization

/// A session with the server: it keeps itself alive, reconnects and resumes after a connection loss, and
/// reports how sure it is of its locks through ``states``.
///
/// ```swift
/// let session = try await client.openSession(ttl: .seconds(10))
/// Task { for await state in session.states where state == .jeopardy { pauseWrites() } }
/// let lock = try await session.acquire("leader", wait: .seconds(30))
/// defer { Task { try await lock.release() } }
/// ```
public final class Session: Sendable {
    /// How sure the session is that it still holds its locks (docs/design.md, "Time").
    public enum State: Hashable, Sendable {
        /// Keepalives succeed.
        case connected
        /// Keepalives fail: the locks may be lost soon; stop touching what they guard.
        case jeopardy
        /// Resumed in time after a jeopardy: nothing was lost. ``connected`` follows.
        case safe
        /// The session is gone, and its locks with it. Final.
        case expired
    }

    /// The session's id.
    public let id: SessionID
    /// The session's TTL.
    public let ttl: Duration
    /// The principal that owns the session.
    public let owner: String

    private struct Mutable: AfterUnlockState {
        var state = State.connected
        /// The connection the session is bound to on the server.
        var connection: RPCConnection
        /// When the last successful keepalive (or resume) was *sent*: the server's deadline is at least `ttl` later.
        var confirmedAt: ContinuousClock.Instant
        var observers: [UInt64: AsyncStream<State>.Continuation] = [:]
        var nextObserver: UInt64 = 0
        var keepAlive: Task<Void, Never>?
        /// The keepalive loop's pause until its next attempt; cancelled to wake it early.
        var pause: Task<Void, any Error>?
        /// The bound connection closed while the loop was not pausing: its next pause is skipped.
        var connectionLost = false
        var closed = false
        /// Yields and finishes of ``observers``: a consumer being cancelled runs the stream's `onTermination`,
        /// which takes the lock, so they happen once it is released.
        var afterUnlock = AfterUnlock()
    }

    let client: LeaseholdClient
    private let secret: [UInt8]
    private let mutable: Mutex<Mutable>

    init(client: LeaseholdClient, info: SessionInfo, connection: RPCConnection, sentAt: ContinuousClock.Instant = .now)
    {
        self.client = client
        self.id = info.sessionID
        self.ttl = info.ttl
        self.owner = info.owner
        self.secret = info.secret
        self.mutable = Mutex(Mutable(connection: connection, confirmedAt: sentAt))
        // The loop keeps the session alive (and in memory) until it is closed or expires, like the lease it is.
        let task = Task { await self.keepAlive() }
        self.mutable.withLock { $0.keepAlive = task }
        self.reconnectWhenClosed(connection)
    }

    // MARK: - State

    /// The current state.
    public var state: State { self.mutable.withLock { $0.state } }

    /// The state now and every change after it. The stream finishes after ``State/expired`` or ``close()``.
    public var states: AsyncStream<State> {
        let (stream, continuation) = AsyncStream.makeStream(of: State.self)
        let id = self.mutable.withLock { mutable -> UInt64? in
            continuation.yield(mutable.state)
            guard mutable.state != .expired, !mutable.closed else { return nil }
            let id = mutable.nextObserver
            mutable.nextObserver += 1
            mutable.observers[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.mutable.withLock { $0.observers.removeValue(forKey: id) }
        }
        return stream
    }

    /// The latest instant at which the session is known to be alive on the server: the send time of the last
    /// successful keepalive plus the TTL. A process guarding a resource must stop before it.
    public var confirmedUntil: ContinuousClock.Instant { self.mutable.withLock { $0.confirmedAt + self.ttl } }

    // MARK: - Locks

    /// Takes `key`, waiting up to `wait` in the key's FIFO queue.
    /// - Parameters:
    ///   - key: The key: 1–512 bytes of UTF-8, no NUL.
    ///   - wait: How long to wait; `.zero` is a try-lock that fails at once with `LOCK_HELD`.
    /// - Returns: The lock, with its fencing token.
    /// - Throws: ``LeaseholdError``: `LOCK_HELD` (with the holder), `DEADLINE_EXCEEDED` (the wait ran out),
    ///   `SESSION_EXPIRED` (at once when this session dies while waiting), `INVALID_ARGUMENT`, `UNAVAILABLE`.
    public func acquire(_ key: String, wait: Duration = .seconds(30)) async throws -> Lock {
        guard !key.utf8.contains(0) else {
            throw LeaseholdError(code: .invalidArgument, message: "invalid key: keys must not contain NUL")
        }
        let deadline = ContinuousClock.now + wait
        return try await withThrowingTaskGroup(of: Lock.self) { group in
            group.addTask {
                var backoff = Backoff(self.client.configuration.reconnectBackoff)
                while true {
                    let remaining = max(.zero, deadline - .now)
                    do {
                        let response = try await self.sessionCall(
                            LeaseholdMethod.acquire,
                            AcquireRequest(sessionID: self.id, key: key, wait: remaining),
                            timeout: remaining + self.client.configuration.callTimeout
                        )
                        guard let info = response.lock else {
                            throw LeaseholdError(code: .internal, message: "Acquire answered without a lock")
                        }
                        return Lock(info: info, session: self)
                    } catch let error as LeaseholdError where error.isConnectivity {
                        // A lost answer is safe to ask again for: the server returns the same grant to its holder.
                        try await Task.sleep(for: backoff.next())
                    }
                }
            }
            group.addTask {
                for await state in self.states where state == .expired { break }
                try Task.checkCancellation()
                throw LeaseholdError(
                    code: .sessionExpired,
                    message: "session \(self.id) expired while waiting for \(key)"
                )
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Runs `body` while holding `key`, and releases the lock on every way out of it.
    /// - Parameters:
    ///   - key: The key.
    ///   - wait: How long to wait for the lock.
    ///   - body: The work; it gets the lock, whose ``Lock/fencingToken`` downstream writes should carry.
    /// - Returns: What `body` returns.
    /// - Throws: `body`'s error, or the acquire's, or the release's when `body` succeeded.
    public func withLock<R: Sendable>(
        _ key: String,
        wait: Duration = .seconds(30),
        _ body: (Lock) async throws -> R
    ) async throws -> R {
        let lock = try await self.acquire(key, wait: wait)
        let result: R
        do {
            result = try await body(lock)
        } catch {
            try? await lock.releaseEvenIfCancelled()
            throw error
        }
        try await lock.releaseEvenIfCancelled()
        return result
    }

    /// Closes the session on the server, releasing all its locks, and stops the keepalives.
    /// - Returns: How many locks were released.
    @discardableResult
    public func close() async throws -> Int {
        let task = self.mutable.withLock { mutable in
            mutable.closed = true
            return mutable.keepAlive
        }
        task?.cancel()
        defer { self.finish(with: nil) }
        let response = try await self.sessionCall(
            LeaseholdMethod.closeSession,
            CloseSessionRequest(sessionID: self.id),
            timeout: self.client.configuration.callTimeout
        )
        return Int(response.released)
    }

    // MARK: - Internal

    /// A call that must run on the connection the session is bound to: resumes on the current connection first
    /// if the session is bound to an older one.
    func sessionCall<Request: WireMessage, Response: WireMessage>(
        _ method: MethodDescriptor<Request, Response>,
        _ request: Request,
        timeout: Duration
    ) async throws -> Response {
        let connection = try await self.boundConnection()
        do {
            return try await connection.unary(method, request, timeout: timeout)
        } catch let error as LeaseholdError where error.code == .sessionExpired {
            self.finish(with: .expired)
            throw error
        }
    }

    /// The current connection, with the session resumed on it if needed.
    /// - Parameter waitingForActive: Whether to wait for an active node, as
    ///   ``LeaseholdClient/connection(waitingForActive:)`` does.
    private func boundConnection(waitingForActive: Bool = true) async throws -> RPCConnection {
        let connection = try await self.client.connection(waitingForActive: waitingForActive)
        if self.mutable.withLock({ $0.connection === connection }) { return connection }
        try await self.resume(on: connection)
        return connection
    }

    private func resume(on connection: RPCConnection) async throws {
        let sentAt = ContinuousClock.now
        do {
            _ = try await connection.unary(
                LeaseholdMethod.resumeSession,
                ResumeSessionRequest(sessionID: self.id, secret: self.secret),
                timeout: self.client.configuration.callTimeout
            )
        } catch let error as LeaseholdError where error.code == .sessionExpired || error.code == .notFound {
            self.finish(with: .expired)
            throw LeaseholdError(code: .sessionExpired, message: "session \(self.id) expired: \(error.message)")
        }
        self.mutable.withLock { mutable in
            mutable.connection = connection
            mutable.confirmedAt = max(mutable.confirmedAt, sentAt)
        }
        self.reconnectWhenClosed(connection)
    }

    /// Wakes the keepalive loop when `connection`, to which the session is bound, closes: the session then
    /// reconnects and resumes at once (on the new active node after a failover) instead of at its next keepalive,
    /// up to TTL/3 later.
    private func reconnectWhenClosed(_ connection: RPCConnection) {
        connection.closeFuture.whenComplete { [weak self] _ in
            guard let self else { return }
            self.mutable.withLock { mutable in
                guard mutable.connection === connection, !mutable.closed else { return }
                mutable.connectionLost = true
                mutable.pause?.cancel()
            }
        }
    }

    /// Sleeps until `deadline`; with `wakeOnClose`, less if the bound connection closes meanwhile (or closed since
    /// the last pause). A pause after a failed attempt is a back-off and is not cut short: a node that accepts a
    /// connection and then cuts it must not be retried in a tight loop.
    private func pause(until deadline: ContinuousClock.Instant, wakeOnClose: Bool) async {
        guard wakeOnClose else {
            try? await Task.sleep(until: deadline)
            self.mutable.withLock { $0.connectionLost = false }
            return
        }
        let pause = self.mutable.withLock { mutable -> Task<Void, any Error>? in
            if mutable.connectionLost {
                mutable.connectionLost = false
                return nil
            }
            let pause = Task { try await Task.sleep(until: deadline) }
            mutable.pause = pause
            return pause
        }
        guard let pause else { return }
        await withTaskCancellationHandler {
            _ = await pause.result
        } onCancel: {
            pause.cancel()
        }
        self.mutable.withLock { mutable in
            mutable.pause = nil
            mutable.connectionLost = false
        }
    }

    /// Runs the keepalive loop, and ends the session as `expired` at ``confirmedUntil`` even while a keepalive or a
    /// reconnect is still waiting: a frozen server holds a call open, and a reconnect to it waits for its connect
    /// timeout, so the loop alone would notice the TTL only after those give up.
    private func keepAlive() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.keepAliveLoop() }
            group.addTask { await self.expireWhenUnconfirmed() }
            // Either ends the session (expired or closed); the other then has nothing left to do.
            await group.next()
            group.cancelAll()
        }
    }

    /// Waits for ``confirmedUntil``, again each time a keepalive has moved it, and ends the session once it passes.
    private func expireWhenUnconfirmed() async {
        while true {
            do {
                try await Task.sleep(until: self.confirmedUntil)
            } catch {
                return
            }
            if ContinuousClock.now >= self.confirmedUntil {
                self.finish(with: .expired)
                return
            }
        }
    }

    /// Sends a keepalive every TTL/3, on the process-wide grid of ``KeepAliveSchedule`` so that sessions due
    /// together share a write, and at once when the bound connection closes; on failure reports jeopardy and retries
    /// (reconnecting and resuming) until it succeeds (safe) or the TTL has passed since the last success (expired).
    private func keepAliveLoop() async {
        let schedule = KeepAliveSchedule(ttl: self.ttl)
        let interval = schedule.interval
        var backoff = Backoff(self.client.configuration.reconnectBackoff)
        var nextAttempt = schedule.next(after: .now)
        var failed = false
        while !Task.isCancelled {
            await self.pause(until: nextAttempt, wakeOnClose: !failed)
            if Task.isCancelled { return }
            let sentAt = ContinuousClock.now
            var connection: RPCConnection?
            do {
                connection = try await self.boundConnection(waitingForActive: false)
                _ = try await connection!.unary(
                    LeaseholdMethod.keepAlive,
                    KeepAliveRequest(sessionID: self.id),
                    timeout: interval
                )
                self.mutable.withLock { $0.confirmedAt = max($0.confirmedAt, sentAt) }
                if self.state == .jeopardy {
                    self.publish(.safe)
                    self.publish(.connected)
                }
                backoff.reset()
                failed = false
                nextAttempt = schedule.next(after: sentAt)
            } catch let error as LeaseholdError where error.code == .sessionExpired || error.code == .notFound {
                self.finish(with: .expired)
                return
            } catch {
                if Task.isCancelled { return }
                if let connection, (error as? LeaseholdError)?.isConnectivity ?? false {
                    await self.client.discard(connection)
                }
                if ContinuousClock.now >= self.confirmedUntil {
                    self.finish(with: .expired)
                    return
                }
                self.publish(.jeopardy)
                failed = true
                nextAttempt = min(ContinuousClock.now + backoff.next(), self.confirmedUntil)
            }
        }
    }

    private func publish(_ state: State) {
        self.mutable.withLockThenRun { mutable in
            guard mutable.state != state, mutable.state != .expired else { return }
            mutable.state = state
            for observer in mutable.observers.values { mutable.afterUnlock.append { observer.yield(state) } }
        }
    }

    /// Ends the state stream, after publishing `state` if given.
    private func finish(with state: State?) {
        self.mutable.withLockThenRun { mutable in
            let published = mutable.state == .expired ? nil : state
            if let published { mutable.state = published }
            for observer in mutable.observers.values {
                mutable.afterUnlock.append {
                    if let published { observer.yield(published) }
                    observer.finish()
                }
            }
            mutable.observers.removeAll()
            if state == .expired, let task = mutable.keepAlive { mutable.afterUnlock.append { task.cancel() } }
        }
    }
}

/// A held lock.
public struct Lock: Sendable {
    /// The grant as the server recorded it.
    public let info: LockInfo
    let session: Session

    /// The locked key.
    public var key: String { self.info.key }
    /// The fencing token: pass it to every downstream write made under this lock.
    public var fencingToken: UInt64 { self.info.fencingToken }

    /// Releases the lock.
    ///
    /// If the connection is lost before the answer arrives, the release is sent again on a new connection; when
    /// that second attempt finds the lock no longer held by this session, the first one took effect (or the lock was
    /// lost meanwhile): either way it is released, and the revision is unknown (0).
    /// - Returns: The revision of the release, or 0 when it is unknown.
    /// - Throws: ``LeaseholdError`` with `NOT_LOCK_HOLDER` when the lock was already lost (expired or
    ///   force-released), `SESSION_EXPIRED`, `UNAVAILABLE`.
    @discardableResult
    public func release() async throws -> UInt64 {
        let request = ReleaseRequest(sessionID: self.session.id, key: self.key, fencingToken: self.fencingToken)
        let timeout = self.session.client.configuration.callTimeout
        do {
            let response = try await self.session.sessionCall(LeaseholdMethod.release, request, timeout: timeout)
            return response.revision
        } catch let error as LeaseholdError where error.isConnectivity {
            do {
                let response = try await self.session.sessionCall(LeaseholdMethod.release, request, timeout: timeout)
                return response.revision
            } catch let error as LeaseholdError where error.code == .notLockHolder {
                return 0
            }
        }
    }

    /// Releases even from a cancelled task: cleanup must not be cut short by the cancellation that caused it.
    func releaseEvenIfCancelled() async throws {
        _ = try await Task { try await self.release() }.value
    }
}
