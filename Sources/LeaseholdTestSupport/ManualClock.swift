import Foundation
public import LeaseholdCore
public import LeaseholdServer
import Synchronization

/// A ``LeaseClock`` that moves only when a test says so, so that time-dependent tests never sleep.
public final class ManualClock: LeaseClock {
    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Instant
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    /// Creates a clock at monotonic zero and the real wall-clock time (so that age-based retention behaves as in
    /// production), or at `start`.
    public init(start: Instant? = nil) {
        let wall = WallTime(millisecondsSince1970: UInt64(Date().timeIntervalSince1970 * 1_000))
        self.state = Mutex(State(now: start ?? Instant(monotonic: .zero, wall: wall)))
    }

    public func now() -> Instant { self.state.withLock { $0.now } }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let due = self.state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now = state.now + duration
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers.removeValue(forKey: id) }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// How many tasks are sleeping on this clock.
    public var sleeperCount: Int { self.state.withLock { $0.sleepers.count } }

    public func sleep(until deadline: Instant) async throws {
        let id = self.state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = self.state.withLock { state -> Bool in
                    if deadline <= state.now || Task.isCancelled { return true }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = self.state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}
