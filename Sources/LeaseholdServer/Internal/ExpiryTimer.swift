import LeaseholdCore
import Synchronization

/// One timer for every deadline in the lock table: it sleeps until the table's `nextDeadline`, then expires what
/// is due. An operation that creates an earlier deadline wakes it (``deadlineChanged(to:)``).
///
/// Wake-ups are at least ``minimumInterval`` apart, so that many sessions with spread-out deadlines cost a bounded
/// number of wake-ups per second; a deadline is served at most that much late.
final class ExpiryTimer: Sendable {
    static let minimumInterval = Duration.milliseconds(5)

    private struct State {
        /// The deadline the timer is sleeping for (before coalescing); nil while awake or idle.
        var sleepingFor: Instant?
        var sleeper: CheckedContinuation<Void, Never>?
        var alarm: Task<Void, Never>?
        var generation: UInt64 = 0
    }

    private let clock: any LeaseClock
    private let state = Mutex(State())

    init(clock: any LeaseClock) { self.clock = clock }

    /// Runs until the task is cancelled.
    /// - Parameters:
    ///   - nextDeadline: The table's earliest deadline.
    ///   - expire: Expires what is due.
    func run(nextDeadline: @Sendable () -> Instant?, expire: @Sendable () -> Void) async {
        var lastRun = self.clock.now()
        while !Task.isCancelled {
            expire()
            lastRun = self.clock.now()
            let next = nextDeadline()
            let target = next.map { max($0, lastRun + Self.minimumInterval) }
            await self.sleep(for: next, until: target)
        }
    }

    /// Tells the timer that the table has a deadline at `deadline`; wakes it if that is earlier than what it sleeps for.
    func deadlineChanged(to deadline: Instant?) {
        guard let deadline else { return }
        let sleeper = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.sleeper != nil, state.sleepingFor.map({ deadline < $0 }) ?? true else { return nil }
            return Self.wake(&state)
        }
        sleeper?.resume()
    }

    private func sleep(for deadline: Instant?, until target: Instant?) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                self.state.withLock { state in
                    guard !Task.isCancelled else {
                        continuation.resume()
                        return
                    }
                    state.generation += 1
                    state.sleeper = continuation
                    state.sleepingFor = deadline
                    guard let target else { return }  // idle: only an operation wakes it
                    let generation = state.generation
                    let clock = self.clock
                    state.alarm = Task {
                        try? await clock.sleep(until: target)
                        let sleeper = self.state.withLock { state in
                            state.generation == generation ? Self.wake(&state) : nil
                        }
                        sleeper?.resume()
                    }
                }
            }
        } onCancel: {
            self.state.withLock { Self.wake(&$0) }?.resume()
        }
    }

    /// Clears the sleep; returns the sleeper for the caller to resume after releasing the lock (a task being
    /// cancelled holds its own status lock while its cancellation handler waits for ours).
    private static func wake(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        state.alarm?.cancel()
        state.alarm = nil
        state.sleepingFor = nil
        state.generation += 1
        defer { state.sleeper = nil }
        return state.sleeper
    }
}
