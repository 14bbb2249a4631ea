/// Checks whether a key's history of lock operations is linearizable against ``FencedLockModel``: whether some
/// order of its operations, each placed at one moment between its invocation and its answer, is a correct
/// sequential execution that gives every answer the client received. A lost operation may be placed at any moment
/// after its invocation (before its `settledBy` time, when known), with or without its effect.
///
/// Pure: no I/O, no clock. The work is bounded by ``stepLimit``; past it the verdict is
/// ``LockHistoryCheck/Verdict/undecided`` rather than a hang. Keep each key's history to a few thousand operations
/// and settle lost operations (give `settledBy`), or the search may not finish in that bound.
///
/// ```swift
/// let checker = LinearizabilityChecker()
/// for (key, history) in histories {
///     let check = checker.check(history)
///     #expect(check.verdict == .linearizable, "\(key): \(check)")
/// }
/// for violation in TokenOrderCheck.violations(in: histories) { Issue.record("\(violation)") }
/// ```
public struct LinearizabilityChecker: Sendable {
    /// The most list entries the search visits before it gives up with ``LockHistoryCheck/Verdict/undecided``.
    public var stepLimit: Int

    /// - Parameter stepLimit: The most list entries the search visits before it gives up.
    public init(stepLimit: Int = 5_000_000) {
        self.stepLimit = stepLimit
    }

    /// Checks one key's history.
    /// - Parameter history: Every operation on the key, in any order.
    /// - Returns: The verdict, its cost, and when not linearizable, where the search got stuck.
    public func check(_ history: [LockOperation]) -> LockHistoryCheck {
        let operations = history.map { operation in
            LinearizationSearch<FencedLockModel.State>.Operation(
                invoked: operation.invoked,
                returned: {
                    switch operation.outcome {
                    case .answered(_, let time): time
                    case .lost(let settled): settled
                    }
                }()
            )
        }
        let search = LinearizationSearch(operations: operations, initial: FencedLockModel.initial) { state, index in
            FencedLockModel.step(state, history[index])
        }
        let (verdict, steps) = search.run(stepLimit: self.stepLimit)
        switch verdict {
        case .linearizable:
            return LockHistoryCheck(verdict: .linearizable, operations: history.count, steps: steps, window: nil)
        case .undecided:
            return LockHistoryCheck(verdict: .undecided, operations: history.count, steps: steps, window: nil)
        case .notLinearizable(let prefix, let states, let blocked):
            let window = FailingWindow(history: history, prefix: prefix, states: states, blocked: blocked)
            return LockHistoryCheck(verdict: .notLinearizable, operations: history.count, steps: steps, window: window)
        }
    }
}

/// The result of checking one key's history.
public struct LockHistoryCheck: Sendable, CustomStringConvertible {
    /// What the search found.
    public enum Verdict: Hashable, Sendable {
        /// Some order of the operations explains every answer.
        case linearizable
        /// No order does: the server showed something a correct lock cannot.
        case notLinearizable
        /// The search reached its step limit first.
        case undecided
    }

    /// What the search found.
    public var verdict: Verdict
    /// How many operations the history had.
    public var operations: Int
    /// How many list entries the search visited.
    public var steps: Int
    /// Where the search got stuck, when the history is not linearizable.
    public var window: FailingWindow?

    public var description: String {
        switch self.verdict {
        case .linearizable:
            return "linearizable (\(self.operations) operations, \(self.steps) search steps)"
        case .undecided:
            return "undecided after \(self.steps) search steps (\(self.operations) operations): shorten the history"
        case .notLinearizable:
            return "NOT linearizable (\(self.operations) operations, \(self.steps) search steps)\n"
                + (self.window.map(\.description) ?? "")
        }
    }
}

/// The smallest part of a non-linearizable history that shows the problem: the furthest any order got, the state
/// the lock was in there, and the operations still to place, none of which can come next (or one of which had to
/// come next, but cannot).
public struct FailingWindow: Sendable, CustomStringConvertible {
    /// How many operations the longest partial linearization placed.
    public var placed: Int
    /// Its last few operations, in their linearization order: the context.
    public var lastPlaced: [LockOperation]
    /// The states the lock can be in after them.
    public var states: [FencedLockModel.State]
    /// The operation whose answer arrived before any order could place it, if the search named one.
    public var blocked: LockOperation?
    /// The operations not yet placed that were invoked before that answer, by invocation time: the window.
    public var pending: [LockOperation]

    init(history: [LockOperation], prefix: [Int], states: Set<FencedLockModel.State>, blocked: Int?) {
        self.placed = prefix.count
        self.lastPlaced = prefix.suffix(8).map { history[$0] }
        self.states = states.sorted { $0.description < $1.description }
        self.blocked = blocked.map { history[$0] }
        var placed = Set(prefix)
        if let blocked { placed.remove(blocked) }
        let horizon: Duration? = blocked.flatMap { index in
            switch history[index].outcome {
            case .answered(_, let time): time
            case .lost(let settled): settled
            }
        }
        self.pending = history.indices
            .filter { index in !placed.contains(index) && (horizon.map { history[index].invoked <= $0 } ?? true) }
            .sorted { history[$0].invoked < history[$1].invoked }
            .prefix(40)
            .map { history[$0] }
    }

    public var description: String {
        var lines: [String] = []
        lines.append("the longest order that explains the answers places \(self.placed) operations, ending with:")
        lines += self.lastPlaced.map { "    \($0)" }
        lines.append("after them the lock is \(self.states.map(\.description).joined(separator: ", or "))")
        if let blocked = self.blocked {
            lines.append("and this operation's answer cannot be explained by any order of what is still pending:")
            lines.append("    \(blocked)")
        }
        lines.append("pending operations (invoked before that answer, not yet placed):")
        lines += self.pending.map { "    \($0)" }
        return lines.joined(separator: "\n")
    }
}

extension LinearizabilityChecker {
    /// Checks every key's history, then the tokens of all of them together (``TokenOrderCheck``).
    ///
    /// ```swift
    /// let summary = LinearizabilityChecker().check(histories: recorder.histories)
    /// print(summary)  // "3 keys, 4,210 operations (97 lost): linearizable"
    /// for failure in summary.failures { Issue.record(Comment(rawValue: failure)) }
    /// ```
    /// - Parameter histories: Each key's operations.
    /// - Returns: Every key's verdict, the token violations, and the counts.
    public func check(histories: [String: [LockOperation]]) -> HistoryCheckSummary {
        var keys: [String: LockHistoryCheck] = [:]
        for (key, history) in histories {
            keys[key] = self.check(history)
        }
        return HistoryCheckSummary(
            keys: keys,
            tokenViolations: TokenOrderCheck.violations(in: histories),
            operations: histories.values.reduce(0) { $0 + $1.count },
            lostOperations: histories.values.reduce(0) { total, history in
                total + history.count { $0.result == nil }
            }
        )
    }
}

/// The verdicts on the histories of several keys, and on their tokens together.
public struct HistoryCheckSummary: Sendable, CustomStringConvertible {
    /// Each key's verdict.
    public var keys: [String: LockHistoryCheck]
    /// What ``TokenOrderCheck`` found across keys.
    public var tokenViolations: [TokenOrderCheck.Violation]
    /// How many operations the histories hold (a `CloseSession` or `ResumeSession` counts once per key).
    public var operations: Int
    /// How many of them were lost.
    public var lostOperations: Int

    /// Whether every key is linearizable and the tokens are consistent; false when any key is undecided.
    public var isLinearizable: Bool {
        self.failures.isEmpty
    }

    /// One readable message per key that is not linearizable or undecided, then one per token violation.
    public var failures: [String] {
        let keys = self.keys.filter { $0.value.verdict != .linearizable }.sorted { $0.key < $1.key }
        return keys.map { "\($0.key): \($0.value)" } + self.tokenViolations.map(\.description)
    }

    public var description: String {
        let verdict = self.isLinearizable ? "linearizable" : "\(self.failures.count) failures"
        let steps = self.keys.values.reduce(0) { $0 + $1.steps }
        return "\(self.keys.count) keys, \(self.operations) operations (\(self.lostOperations) lost), "
            + "\(steps) search steps: \(verdict)"
    }
}
