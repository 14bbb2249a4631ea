public import LeaseholdLinearizability
import Synchronization

/// Records the lock operations of concurrent clients, for ``LinearizabilityChecker`` at the end of a test.
///
/// Times are offsets from the recorder's creation on one `ContinuousClock`. Take ``now`` just before sending a
/// request, and record the operation once its answer arrived (``now`` again) or was lost. An operation lost to a
/// server that was killed is tagged with that server's *epoch* (its incarnation, or its failover generation); once
/// the server is known dead, ``epochEnded(_:)`` settles every lost operation of that epoch: if it took effect, it
/// did before then.
///
/// ```swift
/// let recorder = LockHistoryRecorder()
/// let call = LockOperation.Call.acquire(sessionID: session.rawValue)
/// let invoked = recorder.now
/// do {
///     let response = try await connection.unary(LeaseholdMethod.acquire, request)
///     recorder.record(key, client: 1, call, invoked: invoked, .granted(fencingToken: response.lock!.fencingToken))
/// } catch {
///     recorder.recordLost(key, client: 1, call, invoked: invoked, epoch: incarnation)
/// }
/// // …after SIGKILL and waitForExit:
/// recorder.epochEnded(incarnation)
/// // …at the end:
/// let summary = LinearizabilityChecker().check(histories: recorder.histories)
/// ```
public final class LockHistoryRecorder: Sendable {
    private struct State {
        var histories: [String: [LockOperation]] = [:]
        /// Lost operations still to settle: key, index in its history, epoch.
        var lost: [(key: String, index: Int, epoch: Int)] = []
        var epochEnds: [Int: Duration] = [:]
    }

    private let origin = ContinuousClock.now
    private let state = Mutex(State())

    public init() {}

    /// The time since the recorder was created.
    public var now: Duration { ContinuousClock.now - self.origin }

    /// Records an answered operation; its answer arrived now.
    /// - Parameters:
    ///   - key: The key it acted on.
    ///   - client: Who sent it, for descriptions.
    ///   - call: The request.
    ///   - invoked: ``now`` just before the request was sent.
    ///   - result: The answer.
    public func record(
        _ key: String,
        client: Int,
        _ call: LockOperation.Call,
        invoked: Duration,
        _ result: LockOperation.Result
    ) {
        let operation = LockOperation(
            client: client,
            call: call,
            invoked: invoked,
            outcome: .answered(result, at: self.now)
        )
        self.state.withLock { $0.histories[key, default: []].append(operation) }
    }

    /// Records an operation whose answer was lost when the server of `epoch` died.
    /// - Parameters:
    ///   - key: The key it acted on.
    ///   - client: Who sent it, for descriptions.
    ///   - call: The request.
    ///   - invoked: ``now`` just before the request was sent.
    ///   - epoch: The server it was sent to; nil when no server death bounds it.
    public func recordLost(_ key: String, client: Int, _ call: LockOperation.Call, invoked: Duration, epoch: Int?) {
        let operation = LockOperation(client: client, call: call, invoked: invoked, outcome: .lost(settledBy: nil))
        self.state.withLock { state in
            state.histories[key, default: []].append(operation)
            if let epoch { state.lost.append((key, state.histories[key]!.count - 1, epoch)) }
        }
    }

    /// Records that the server of `epoch` is dead (its process has exited): nothing it does can happen later.
    public func epochEnded(_ epoch: Int) {
        let now = self.now
        self.state.withLock { $0.epochEnds[epoch] = now }
    }

    /// Every key's history so far, lost operations settled by the end of their epoch where it is known.
    public var histories: [String: [LockOperation]] {
        self.state.withLock { state in
            var histories = state.histories
            for lost in state.lost {
                guard let end = state.epochEnds[lost.epoch] else { continue }
                histories[lost.key]![lost.index].outcome = .lost(settledBy: end)
            }
            return histories
        }
    }
}
