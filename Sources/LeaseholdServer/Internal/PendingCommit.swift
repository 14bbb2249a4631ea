import LeaseholdCore
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
        /// The first waiter is held apart: most batches have exactly one reply waiting on them (the call that
        /// submitted it), and it then costs no array.
        case inFlight(first: DurableReply?, more: [DurableReply])
        case finished(Result<Void, LeaseholdError>)
    }

    private let state = Mutex(State.inFlight(first: nil, more: []))

    /// Queues `waiter` until the commit finishes.
    /// - Returns: `nil` when queued; the commit's result when it has finished already, for the caller to answer
    ///   with itself (outside its own locks).
    func wait(_ waiter: DurableReply) -> Result<Void, LeaseholdError>? {
        self.state.withLock { state in
            switch state {
            case .inFlight(.none, let more):
                state = .inFlight(first: waiter, more: more)
                return nil
            case .inFlight(let first, var more):
                // Keeps the array uniquely referenced while it grows.
                state = .inFlight(first: first, more: [])
                more.append(waiter)
                state = .inFlight(first: first, more: more)
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
        // Taken through captured variables, not returned as a tuple: a closure in a generic result is re-abstracted
        // through a thunk, which costs an allocation per commit.
        var first: DurableReply?
        var more: [DurableReply] = []
        self.state.withLock { state in
            guard case .inFlight(let queued, let rest) = state else {
                preconditionFailure("a commit finished twice")
            }
            first = queued
            more = rest
            state = .finished(result)
        }
        first?.deliver(result)
        for waiter in more { waiter.deliver(result) }
    }
}

/// A reply waiting for a commit: whom to answer and with what, as a value. The two answers of the lock calls (a
/// grant, a release's revision) are stored as they are, so that waiting for the commit costs them no closure; any
/// other answer is a closure.
enum DurableReply: Sendable {
    /// A grant, answered with its lock once durable.
    case lock(LockService.Completion<LockInfo>, LockInfo)
    /// A release, answered with its revision once durable.
    case revision(LockService.Completion<UInt64>, UInt64)
    /// Any other reply.
    case waiter(PendingCommit.Waiter)

    /// Answers: with the value if the commit is durable, with the commit's error if it failed.
    func deliver(_ result: Result<Void, LeaseholdError>) {
        switch self {
        case .lock(let completion, let lock): completion(result.map { lock }.mapError { $0 })
        case .revision(let completion, let revision): completion(result.map { revision }.mapError { $0 })
        case .waiter(let waiter): waiter(result)
        }
    }
}
