/// One operation on one key, as a client saw it: what it asked, when, and what (if anything) it was answered.
///
/// A history is the list of every operation on one key, from every client, in any order. Times are offsets from
/// one origin shared by all clients of the run (for example `ContinuousClock.now - start` in the test process):
/// `invoked` is taken just before the request is sent, and the answer's time just after the answer arrives, so
/// that the interval contains the moment the server acted.
///
/// ```swift
/// let grant = LockOperation(
///     client: 1, call: .acquire(sessionID: 7), invoked: .milliseconds(3),
///     outcome: .answered(.granted(fencingToken: 12), at: .milliseconds(5)))
/// let cut = LockOperation(
///     client: 2, call: .release(sessionID: 8, fencingToken: 9), invoked: .milliseconds(4),
///     outcome: .lost(settledBy: .milliseconds(40)))  // the server was SIGKILLed; it was dead at 40 ms
/// ```
public struct LockOperation: Hashable, Sendable {
    /// What a client asked about one key.
    public enum Call: Hashable, Sendable {
        /// `Acquire` by a session, a try-lock or a wait in the key's queue.
        case acquire(sessionID: UInt64)
        /// `Release` by a session with a fencing token, the right one or not.
        case release(sessionID: UInt64, fencingToken: UInt64)
        /// `Describe` of the key.
        case describe
        /// `CloseSession`: releases the session's lock on this key, if it holds it.
        case closeSession(sessionID: UInt64)
        /// The locks a session holds, projected on this key: the `locks` of a `ResumeSession` answer (a session
        /// that is `NOT_FOUND` holds nothing).
        case sessionLocks(sessionID: UInt64)
    }

    /// What the server answered.
    public enum Result: Hashable, Sendable {
        /// `Acquire` answered a grant (fresh, or the holder's own grant again).
        case granted(fencingToken: UInt64)
        /// `Acquire` answered `LOCK_HELD` naming the holder.
        case lockHeld(LockHolder)
        /// A waiting `Acquire` answered `DEADLINE_EXCEEDED`: its wait ran out while someone else held the key.
        case waitExpired
        /// `Release` succeeded; the revision of the release.
        case released(revision: UInt64)
        /// `Release` answered `NOT_LOCK_HOLDER`.
        case notLockHolder
        /// `Describe` answered: the holder (nil when free) and the server's revision.
        case described(LockHolder?, revision: UInt64)
        /// `CloseSession` answered.
        case closed
        /// The session's lock on this key, by its token, or nil when it holds none.
        case sessionHolds(fencingToken: UInt64?)
    }

    /// How the operation ended.
    public enum Outcome: Hashable, Sendable {
        /// The server answered; the client received the answer at this time.
        case answered(Result, at: Duration)
        /// No answer: the server was killed or the connection dropped. The operation may have taken effect at any
        /// moment after its invocation, or never. When known, `settledBy` is a time by which it had taken effect if
        /// it ever did (the killed server had exited); nil means any time, which makes the search much costlier.
        case lost(settledBy: Duration?)
    }

    /// Who sent it: a client index, for descriptions only.
    public var client: Int
    /// The request.
    public var call: Call
    /// When the request was about to be sent.
    public var invoked: Duration
    /// The answer, or its absence.
    public var outcome: Outcome

    /// - Parameters:
    ///   - client: Who sent it, for descriptions.
    ///   - call: The request.
    ///   - invoked: When the request was about to be sent.
    ///   - outcome: The answer and when it arrived, or ``Outcome/lost(settledBy:)``.
    public init(client: Int, call: Call, invoked: Duration, outcome: Outcome) {
        self.client = client
        self.call = call
        self.invoked = invoked
        self.outcome = outcome
    }

    /// The answer, if there was one.
    public var result: Result? {
        if case .answered(let result, _) = self.outcome { return result }
        return nil
    }

    /// When the answer arrived, if there was one.
    public var answered: Duration? {
        if case .answered(_, let time) = self.outcome { return time }
        return nil
    }
}

/// A lock's holder as an answer names it: a session and the fencing token of its grant.
public struct LockHolder: Hashable, Sendable, CustomStringConvertible {
    /// The holding session.
    public var sessionID: UInt64
    /// The fencing token of its grant.
    public var fencingToken: UInt64

    /// - Parameters:
    ///   - sessionID: The holding session.
    ///   - fencingToken: The fencing token of its grant.
    public init(sessionID: UInt64, fencingToken: UInt64) {
        self.sessionID = sessionID
        self.fencingToken = fencingToken
    }

    public var description: String { "session \(self.sessionID) token \(self.fencingToken)" }
}

extension LockOperation: CustomStringConvertible {
    /// One line: client, call, times in milliseconds, answer.
    public var description: String {
        let call: String
        switch self.call {
        case .acquire(let session): call = "Acquire by session \(session)"
        case .release(let session, let token): call = "Release by session \(session) with token \(token)"
        case .describe: call = "Describe"
        case .closeSession(let session): call = "CloseSession \(session)"
        case .sessionLocks(let session): call = "ResumeSession \(session) (its locks)"
        }
        let invoked = Self.milliseconds(self.invoked)
        switch self.outcome {
        case .answered(let result, let time):
            return "client \(self.client): \(call) [\(invoked) → \(Self.milliseconds(time)) ms] → \(Self.text(result))"
        case .lost(let settled):
            let by = settled.map { " before \(Self.milliseconds($0)) ms" } ?? ""
            return "client \(self.client): \(call) [\(invoked) ms → lost\(by)]"
        }
    }

    private static func text(_ result: Result) -> String {
        switch result {
        case .granted(let token): "granted token \(token)"
        case .lockHeld(let holder): "LOCK_HELD by \(holder)"
        case .waitExpired: "DEADLINE_EXCEEDED (wait ran out)"
        case .released(let revision): "released at revision \(revision)"
        case .notLockHolder: "NOT_LOCK_HOLDER"
        case .described(let holder, let revision):
            "\(holder.map { "held by \($0)" } ?? "free") at revision \(revision)"
        case .closed: "closed"
        case .sessionHolds(let token): token.map { "holds it with token \($0)" } ?? "holds nothing here"
        }
    }

    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        let whole = micros / 1_000
        let fraction = abs(micros % 1_000)
        return "\(whole).\(String(fraction + 1_000).dropFirst())"
    }
}
