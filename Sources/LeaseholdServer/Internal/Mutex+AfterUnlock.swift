import Synchronization

/// Work that a critical section queues to run once the lock is released.
///
/// Resuming a continuation or calling a completion under a lock can deadlock: a task being cancelled holds its own
/// status lock while its cancellation handler waits for ours, and a completion may call back into the owner.
/// State that needs this embeds an `AfterUnlock`, and ``Synchronization/Mutex/withLockThenRun(_:)`` runs it.
struct AfterUnlock: Sendable {
    private var actions: [@Sendable () -> Void] = []

    /// Queues `action` to run after the lock is released, in the order queued.
    mutating func append(_ action: @escaping @Sendable () -> Void) {
        self.actions.append(action)
    }

    /// Takes the queued actions, leaving none.
    mutating func take() -> [@Sendable () -> Void] {
        defer { self.actions.removeAll() }
        return self.actions
    }
}

/// State guarded by a mutex whose critical sections queue work for after the unlock.
protocol AfterUnlockState: Sendable {
    var afterUnlock: AfterUnlock { get set }
}

extension Mutex where Value: AfterUnlockState {
    /// Runs `body` under the lock, then what it queued in ``AfterUnlock``.
    func withLockThenRun<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        let (result, actions) = try self.withLock { state -> (T, [@Sendable () -> Void]) in
            let result = try body(&state)
            return (result, state.afterUnlock.take())
        }
        for action in actions { action() }
        return result
    }
}
