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
        /// submitted it), and it then costs no array. `service` is the submitter until the store has answered.
        case inFlight(first: DurableReply?, more: [DurableReply], service: LockService?)
        case finished(Result<Void, LeaseholdError>)
    }

    /// The batch's mutations, whose events are published once durable.
    let mutations: [Mutation]
    private let state: Mutex<State>

    /// A commit of `mutations`, submitted by `service`. The commit holds the service only until the store has
    /// answered (``stored(_:)``): the service holds its newest commit, and must not be kept alive by it.
    init(_ mutations: [Mutation], submittedBy service: LockService) {
        self.mutations = mutations
        self.state = Mutex(.inFlight(first: nil, more: [], service: service))
    }

    /// The store's completion for the batch: passed to the store as it is, so that a batch costs no closure of its
    /// own. Hands the result to the service that submitted it (``LockService/committed(_:_:)``).
    func stored(_ result: Result<Void, any Error>) {
        var service: LockService?
        self.state.withLock { state in
            guard case .inFlight(let first, let more, let submitter) = state else { return }
            service = submitter
            state = .inFlight(first: first, more: more, service: nil)
        }
        service?.committed(self, result)
    }

    /// Queues `waiter` until the commit finishes.
    /// - Returns: `nil` when queued; the commit's result when it has finished already, for the caller to answer
    ///   with itself (outside its own locks).
    func wait(_ waiter: DurableReply) -> Result<Void, LeaseholdError>? {
        self.state.withLock { state in
            switch state {
            case .inFlight(.none, let more, let service):
                state = .inFlight(first: waiter, more: more, service: service)
                return nil
            case .inFlight(let first, var more, let service):
                // Keeps the array uniquely referenced while it grows.
                state = .inFlight(first: first, more: [], service: service)
                more.append(waiter)
                state = .inFlight(first: first, more: more, service: service)
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
            guard case .inFlight(let queued, let rest, _) = state else {
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
