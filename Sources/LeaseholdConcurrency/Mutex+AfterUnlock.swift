public import Synchronization

/// Work that a critical section queues to run once the lock is released.
///
/// Resuming a continuation, yielding to or finishing an `AsyncStream`, or calling a completion under a lock can
/// deadlock: a task being cancelled holds its own status lock while its cancellation handler waits for ours, a
/// stream's `onTermination` may take the lock again, and a completion may call back into the owner. State that
/// needs this embeds an `AfterUnlock`, and ``Synchronization/Mutex/withLockThenRun(_:)`` runs it.
///
/// ```swift
/// struct State: AfterUnlockState {
///     var waiters: [CheckedContinuation<Void, Never>] = []
///     var afterUnlock = AfterUnlock()
/// }
/// state.withLockThenRun { state in
///     for waiter in state.waiters { state.afterUnlock.append { waiter.resume() } }
///     state.waiters.removeAll()
/// }
/// ```
package struct AfterUnlock: Sendable {
    private var actions: [@Sendable () -> Void] = []

    /// None queued.
    package init() {}

    /// Queues `action` to run after the lock is released, in the order queued.
    /// - Parameter action: What to run, outside the lock.
    package mutating func append(_ action: @escaping @Sendable () -> Void) {
        self.actions.append(action)
    }

    /// Takes the queued actions, leaving none.
    /// - Returns: The actions, in the order queued.
    package mutating func take() -> [@Sendable () -> Void] {
        defer { self.actions.removeAll() }
        return self.actions
    }
}

/// State guarded by a mutex whose critical sections queue work for after the unlock.
package protocol AfterUnlockState: Sendable {
    /// What the current critical section queued.
    var afterUnlock: AfterUnlock { get set }
}

extension Mutex where Value: AfterUnlockState {
    /// Runs `body` under the lock, then, with the lock released, what it queued in ``AfterUnlock``.
    /// - Parameter body: The critical section.
    /// - Returns: What `body` returned.
    /// - Throws: What `body` threw; what it queued before throwing stays queued for the next critical section.
    package func withLockThenRun<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        let (result, actions) = try self.withLock { state -> (T, [@Sendable () -> Void]) in
            let result = try body(&state)
            return (result, state.afterUnlock.take())
        }
        for action in actions { action() }
        return result
    }
}
