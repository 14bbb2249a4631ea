/// The sequential specification of one key of a fenced lock service, against which a key's history is checked.
///
/// The key is free, or held by one session with a fencing token. Tokens and revisions come from one server-wide
/// counter, so on one key, in the order of any correct execution, a grant's token is above every token and revision
/// that key's answers showed before it; a release's revision too; a `Describe` shows a revision no lower. (The
/// counter also moves on other keys, which a per-key model cannot see: ``TokenOrderCheck`` checks that across keys.)
///
/// - A grant of a free key takes a token above everything seen; the holder asking again gets its own token back.
/// - A try-lock of a key held by another session answers `LOCK_HELD` naming the holder; a wait that runs out needs
///   another session to hold the key at some moment of the wait.
/// - A release succeeds only with the holder's session and token; anything else answers `NOT_LOCK_HOLDER`.
/// - `Describe` shows the holder and token, or free.
/// - Closing a session frees the key if the session held it.
/// - The locks a resumed session lists name this key exactly when the session holds it, with its token.
///
/// A crash and restart changes nothing here: locks and sessions are durable and sessions get a fresh TTL, while a
/// queued wait dies with its connection, which makes it a lost operation. Lock delays, expiries and force-releases
/// are not modelled (a history that has them fails).
///
/// A lost `Acquire` that took effect granted a token nobody saw. The state then holds that grant with a token
/// known only to be above what was seen before it, and the first answer that names it (a `LOCK_HELD`, a `Describe`,
/// a `ResumeSession`, a release that succeeds) pins it, if it is above that bound.
public enum FencedLockModel {
    /// Who holds the key.
    public enum Holder: Hashable, Sendable {
        /// Nobody.
        case free
        /// A session, with a token some answer showed.
        case held(LockHolder)
        /// A session whose grant nobody has seen yet (its `Acquire` answer was lost), with a token above `above`.
        case heldUnseen(sessionID: UInt64, above: UInt64)

        var sessionID: UInt64? {
            switch self {
            case .free: nil
            case .held(let holder): holder.sessionID
            case .heldUnseen(let session, _): session
            }
        }
    }

    /// One state of the key.
    public struct State: Hashable, Sendable, CustomStringConvertible {
        /// Who holds the key.
        public var holder: Holder
        /// The highest token or revision this key's answers showed so far.
        public var highestSeen: UInt64

        /// - Parameters:
        ///   - holder: Who holds the key.
        ///   - highestSeen: The highest token or revision this key's answers showed so far.
        public init(holder: Holder = .free, highestSeen: UInt64 = 0) {
            self.holder = holder
            self.highestSeen = highestSeen
        }

        public var description: String {
            switch self.holder {
            case .free: "free (highest revision seen \(self.highestSeen))"
            case .held(let holder): "held by \(holder) (highest revision seen \(self.highestSeen))"
            case .heldUnseen(let session, let floor):
                "held by session \(session) with a token nobody saw yet, above \(floor)"
            }
        }

        /// This state, with the holder pinned to `holder` when it is consistent with it.
        /// - Returns: nil when the key is not held by that session with that token (or could not be).
        func pinned(_ holder: LockHolder) -> State? {
            switch self.holder {
            case .held(let current) where current == holder:
                return self
            case .heldUnseen(let session, let floor) where session == holder.sessionID && holder.fencingToken > floor:
                return State(holder: .held(holder), highestSeen: max(self.highestSeen, holder.fencingToken))
            default:
                return nil
            }
        }
    }

    /// The key before any operation: free, nothing seen.
    public static let initial = State()

    /// The states the key may be in after `operation`, applied atomically to `state`.
    ///
    /// An answered operation has at most one next state; none means the answer is impossible in `state`. A lost one
    /// has two when it could have taken effect: unchanged, and changed.
    /// - Parameters:
    ///   - state: The state before.
    ///   - operation: The call and its answer, or its loss.
    /// - Returns: Every possible next state; empty when the answer cannot be given in `state`.
    public static func step(_ state: State, _ operation: LockOperation) -> [State] {
        switch operation.outcome {
        case .answered(let result, _):
            return Self.apply(state, operation.call, result).map { [$0] } ?? []
        case .lost:
            return [state] + Self.effectIfLost(state, operation.call)
        }
    }

    /// The change a lost call may have made, besides none.
    private static func effectIfLost(_ state: State, _ call: LockOperation.Call) -> [State] {
        switch call {
        case .acquire(let session):
            guard state.holder == .free else { return [] }  // a re-acquire or a refusal changes nothing
            return [
                State(holder: .heldUnseen(sessionID: session, above: state.highestSeen), highestSeen: state.highestSeen)
            ]
        case .release(let session, let token):
            guard let pinned = state.pinned(LockHolder(sessionID: session, fencingToken: token)) else { return [] }
            return [State(holder: .free, highestSeen: pinned.highestSeen)]
        case .closeSession(let session):
            guard state.holder.sessionID == session else { return [] }
            return [State(holder: .free, highestSeen: state.highestSeen)]
        case .describe, .sessionLocks:
            return []
        }
    }

    /// The state after an answered call, or nil when the answer is impossible.
    private static func apply(_ state: State, _ call: LockOperation.Call, _ result: LockOperation.Result) -> State? {
        switch (call, result) {
        case (.acquire(let session), .granted(let token)):
            if state.holder == .free {
                guard token > state.highestSeen else { return nil }
                return State(holder: .held(LockHolder(sessionID: session, fencingToken: token)), highestSeen: token)
            }
            return state.pinned(LockHolder(sessionID: session, fencingToken: token))  // the holder's own grant again

        case (.acquire(let session), .lockHeld(let holder)):
            guard holder.sessionID != session else { return nil }  // the holder would have been granted
            return state.pinned(holder)

        case (.acquire(let session), .waitExpired):
            guard let holder = state.holder.sessionID, holder != session else { return nil }
            return state

        case (.release(let session, let token), .released(let revision)):
            guard let pinned = state.pinned(LockHolder(sessionID: session, fencingToken: token)),
                revision > pinned.highestSeen
            else { return nil }
            return State(holder: .free, highestSeen: revision)

        case (.release(let session, let token), .notLockHolder):
            if case .held(let holder) = state.holder, holder == LockHolder(sessionID: session, fencingToken: token) {
                return nil
            }
            return state  // an unseen grant's token may differ from this one

        case (.describe, .described(let holder, let revision)):
            guard let holder else {
                guard state.holder == .free, revision >= state.highestSeen else { return nil }
                return State(holder: .free, highestSeen: revision)
            }
            guard var pinned = state.pinned(holder), revision >= pinned.highestSeen else { return nil }
            pinned.highestSeen = revision
            return pinned

        case (.closeSession(let session), .closed):
            guard state.holder.sessionID == session else { return state }
            return State(holder: .free, highestSeen: state.highestSeen)

        case (.sessionLocks(let session), .sessionHolds(let token)):
            guard let token else { return state.holder.sessionID == session ? nil : state }
            return state.pinned(LockHolder(sessionID: session, fencingToken: token))

        default:
            return nil  // an answer this call cannot have
        }
    }
}
