/// Checks the fencing tokens and revisions of several keys' histories against the one server-wide counter they come
/// from, which a per-key ``FencedLockModel`` cannot see:
///
/// 1. **A token names one grant.** Every answer that names a holder (a grant, a `LOCK_HELD`, a `Describe`, a
///    resumed session's locks) names the same key and session for the same token; a release's revision is no
///    grant's token and no other release's revision.
/// 2. **Tokens never go back.** A fresh grant's token, and a release's revision, is above every token and revision
///    that any answer, on any key, carried before the operation was invoked.
///
/// A grant is fresh unless it may be the holder's own grant again: its grant was shown before it was invoked, or
/// the same session had an earlier `Acquire` of the key, lost or answered with the same grant, and no answer since
/// showed that session not holding the key.
///
/// ```swift
/// let violations = TokenOrderCheck.violations(in: ["jobs/1": history1, "jobs/2": history2])
/// ```
public enum TokenOrderCheck {
    /// One broken rule.
    public struct Violation: Hashable, Sendable, CustomStringConvertible {
        /// What went wrong, with the operations involved.
        public var description: String
    }

    /// Every violation of the two rules in the histories.
    /// - Parameter histories: Each key's operations.
    /// - Returns: The violations, empty when the tokens are consistent.
    public static func violations(in histories: [String: [LockOperation]]) -> [Violation] {
        var violations: [Violation] = []
        let keys = histories.keys.sorted()

        // 1. One grant per token; release revisions are events of their own.
        var grants: [UInt64: (key: String, holder: LockHolder, operation: LockOperation)] = [:]
        var releases: [UInt64: (key: String, operation: LockOperation)] = [:]
        for key in keys {
            for operation in histories[key]! {
                for holder in Self.holdersNamed(by: operation) {
                    if let earlier = grants[holder.fencingToken] {
                        if earlier.key != key || earlier.holder != holder {
                            violations.append(
                                Violation(
                                    description: "token \(holder.fencingToken) names two grants: \(earlier.key) to "
                                        + "\(earlier.holder) (\(earlier.operation)) and \(key) to \(holder) "
                                        + "(\(operation))"
                                )
                            )
                        }
                    } else {
                        grants[holder.fencingToken] = (key, holder, operation)
                    }
                }
                if case .answered(.released(let revision), _) = operation.outcome {
                    if let earlier = releases[revision], earlier.operation != operation {
                        violations.append(
                            Violation(
                                description: "revision \(revision) was answered by two releases: \(earlier.key) "
                                    + "(\(earlier.operation)) and \(key) (\(operation))"
                            )
                        )
                    }
                    releases[revision] = (key, operation)
                }
            }
        }
        for (revision, release) in releases.sorted(by: { $0.key < $1.key }) {
            if let grant = grants[revision] {
                violations.append(
                    Violation(
                        description: "revision \(revision) is both the release \(release.key) (\(release.operation)) "
                            + "and the grant \(grant.key) to \(grant.holder) (\(grant.operation))"
                    )
                )
            }
        }

        // 2. Every value any answer carried, by arrival: a fresh event must be above all that arrived before it was
        // invoked.
        var seen: [(at: Duration, value: UInt64, key: String, operation: LockOperation)] = []
        for key in keys {
            for operation in histories[key]! {
                guard let at = operation.answered else { continue }
                for value in Self.valuesCarried(by: operation) { seen.append((at, value, key, operation)) }
            }
        }
        seen.sort { $0.at < $1.at }
        // highestUpTo[i]: the index in `seen` of the highest value among seen[0...i].
        var highestUpTo: [Int] = []
        highestUpTo.reserveCapacity(seen.count)
        for index in seen.indices {
            if let last = highestUpTo.last, seen[last].value >= seen[index].value {
                highestUpTo.append(last)
            } else {
                highestUpTo.append(index)
            }
        }
        func highestBefore(_ time: Duration) -> Int? {
            var low = 0
            var high = seen.count
            while low < high {
                let middle = (low + high) / 2
                if seen[middle].at < time { low = middle + 1 } else { high = middle }
            }
            return low == 0 ? nil : highestUpTo[low - 1]
        }
        for key in keys {
            let history = histories[key]!
            for operation in history {
                let value: UInt64
                let what: String
                switch (operation.call, operation.result) {
                case (.acquire(let session), .granted(let token)?):
                    guard
                        Self.isFresh(
                            grant: LockHolder(sessionID: session, fencingToken: token),
                            by: operation,
                            in: history
                        )
                    else { continue }
                    (value, what) = (token, "the grant of token \(token)")
                case (.release, .released(let revision)?):
                    (value, what) = (revision, "the release at revision \(revision)")
                default:
                    continue
                }
                if let index = highestBefore(operation.invoked), seen[index].value >= value {
                    let earlier = seen[index]
                    violations.append(
                        Violation(
                            description: "token went back on \(key): \(what) (\(operation)) is not above "
                                + "\(earlier.value), which \(earlier.key) answered before it was invoked "
                                + "(\(earlier.operation))"
                        )
                    )
                }
            }
        }
        return violations
    }

    /// The holders an answer names.
    private static func holdersNamed(by operation: LockOperation) -> [LockHolder] {
        switch (operation.call, operation.result) {
        case (.acquire(let session), .granted(let token)?):
            [LockHolder(sessionID: session, fencingToken: token)]
        case (_, .lockHeld(let holder)?):
            [holder]
        case (_, .described(let holder?, _)?):
            [holder]
        case (.sessionLocks(let session), .sessionHolds(let token?)?):
            [LockHolder(sessionID: session, fencingToken: token)]
        default:
            []
        }
    }

    /// The tokens and revisions an answer carries.
    private static func valuesCarried(by operation: LockOperation) -> [UInt64] {
        var values = Self.holdersNamed(by: operation).map(\.fencingToken)
        switch operation.result {
        case .released(let revision)?, .described(_, let revision)?: values.append(revision)
        default: break
        }
        return values
    }

    /// Whether `acquire`'s grant was made during it, rather than being the session's earlier grant again.
    private static func isFresh(grant: LockHolder, by acquire: LockOperation, in history: [LockOperation]) -> Bool {
        for other in history where other != acquire {
            // Shown before this acquire began: this is that grant again.
            if let at = other.answered, at < acquire.invoked, Self.holdersNamed(by: other).contains(grant) {
                return false
            }
            // An earlier acquire of the same session that may have made this grant (its answer was lost, or is this
            // grant), unless an answer since showed the session not holding the key.
            guard case .acquire(let session) = other.call, session == grant.sessionID, other.invoked < acquire.invoked
            else { continue }
            let end: Duration?
            switch other.outcome {
            case .lost(let settled): end = settled
            case .answered(.granted(let token), let at) where token == grant.fencingToken: end = at
            case .answered: continue
            }
            guard let end else { return false }
            let gone = history.contains { probe in
                guard let at = probe.answered, probe.invoked >= end, at < acquire.invoked else { return false }
                return Self.showsNotHeld(by: grant.sessionID, probe)
            }
            if !gone { return false }
        }
        return true
    }

    /// Whether the answer shows, at its moment, that `session` does not hold the key.
    private static func showsNotHeld(by session: UInt64, _ operation: LockOperation) -> Bool {
        switch (operation.call, operation.result) {
        case (.acquire(let other), .granted?): other != session
        case (_, .lockHeld(let holder)?): holder.sessionID != session
        case (_, .described(let holder, _)?): holder?.sessionID != session
        case (.sessionLocks(let other), .sessionHolds(nil)?): other == session
        case (.release(let other, _), .released?): other == session
        case (.closeSession(let other), .closed?): other == session
        default: false
        }
    }
}
