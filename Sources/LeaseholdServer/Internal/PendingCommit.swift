import LeaseholdWire
import Synchronization

/// One batch of mutations submitted to the store, from submission until the store says whether it is durable.
///
/// ``LockService`` keeps the newest one. Every reply computed while it is in flight (a `LOCK_HELD` naming a holder
/// whose grant is still being written, a `Describe` of that grant, a `NOT_LOCK_HOLDER` after a release that is
/// still being written) waits here, so that no client is shown state that a crash could still undo. The store
/// completes batches in submission order, so the newest batch finishing means everything before it finished too.
///
/// Waiting costs no commit of its own: a refused try-lock rides on the commit that is already in flight.
final class PendingCommit: Sendable {
    /// What a waiting reply is told: durable, or the commit failed (the reply must not show what it observed).
    typealias Waiter = @Sendable (Result<Void, LeaseholdError>) -> Void

    private enum State {
        case inFlight([Waiter])
        case finished(Result<Void, LeaseholdError>)
    }

    private let state = Mutex(State.inFlight([]))

    /// Queues `waiter` until the commit finishes.
    /// - Returns: `nil` when queued; the commit's result when it has finished already, for the caller to answer
    ///   with itself (outside its own locks).
    func wait(_ waiter: @escaping Waiter) -> Result<Void, LeaseholdError>? {
        self.state.withLock { state in
            switch state {
            case .inFlight(var waiters):
                state = .inFlight([])  // keeps the array uniquely referenced while it grows
                waiters.append(waiter)
                state = .inFlight(waiters)
                return nil
            case .finished(let result):
                return result
            }
        }
    }

    /// The commit's result once it has finished; `nil` while it is in flight.
    var result: Result<Void, LeaseholdError>? {
        self.state.withLock { state in
            if case .finished(let result) = state { return result }
            return nil
        }
    }

    /// Records the result and runs every queued waiter with it, in the order they were queued.
    func finish(_ result: Result<Void, LeaseholdError>) {
        let waiters = self.state.withLock { state -> [Waiter] in
            guard case .inFlight(let waiters) = state else { preconditionFailure("a commit finished twice") }
            state = .finished(result)
            return waiters
        }
        for waiter in waiters { waiter(result) }
    }
}
