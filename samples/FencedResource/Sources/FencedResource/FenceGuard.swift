/// The fencing check a downstream resource runs before every write: accept token `t` for resource `r` if and only
/// if `t` is at least the highest token `r` has accepted (docs/protocol.md).
///
/// Equal tokens are accepted, so one holder may write many times under one grant. A lower token comes from a holder
/// that has lost its lock to a newer one: it is refused with the highest token, so the writer learns what beat it.
///
/// The type is pure: no I/O, no clock, no locks. Keep one per process in whatever owns your resources (an actor, a
/// `Mutex`), or keep the highest tokens next to the data and call ``check(_:against:)`` inside the transaction that
/// writes them, as ``FencedResourceService`` does. To also refuse a token whose lock was already released, ask the
/// lock server first with ``admit(_:for:lockKey:validator:)``.
///
/// ```swift
/// var fence = FenceGuard()
/// let outcome = fence.accept(lock.fencingToken, for: "orders/42")
/// if let refusal = outcome.error(token: lock.fencingToken, resource: "orders/42") {
///     throw refusal  // STALE_FENCING_TOKEN, with the highest token
/// }
/// try write(order)
/// ```
public struct FenceGuard: Hashable, Sendable {
    /// What the guard decided about one token.
    public enum Outcome: Hashable, Sendable {
        /// The token may write; the resource's highest accepted token is now `newHighest` (the token itself).
        case accepted(newHighest: UInt64)
        /// The token is lower than `highest`, the highest token the resource has accepted: its holder has lost the
        /// lock to a newer one.
        case stale(highest: UInt64)
        /// The token is higher than any the resource has seen, but the lock server says it is not the lock key's
        /// current grant (its lock was released or expired): `highest` is still the resource's highest token.
        case notCurrentGrant(highest: UInt64)

        /// Whether the write may go ahead.
        public var isAccepted: Bool {
            if case .accepted = self { return true }
            return false
        }
    }

    /// The highest accepted token of every resource that has accepted one.
    public private(set) var highestTokens: [String: UInt64]

    /// Creates a guard.
    /// - Parameter highestTokens: The highest token each resource has accepted so far, such as loaded from disk;
    ///   resources not listed have accepted none.
    public init(highestTokens: [String: UInt64] = [:]) {
        self.highestTokens = highestTokens
    }

    /// The highest token `resource` has accepted, or `nil` when it has accepted none.
    /// - Parameter resource: The resource's name.
    public func highestToken(for resource: String) -> UInt64? {
        self.highestTokens[resource]
    }

    /// Decides about `token` for `resource` without recording anything.
    /// - Parameters:
    ///   - token: The writer's fencing token.
    ///   - resource: The resource it wants to write.
    /// - Returns: ``Outcome/accepted(newHighest:)`` or ``Outcome/stale(highest:)``.
    public func check(_ token: UInt64, for resource: String) -> Outcome {
        Self.check(token, against: self.highestTokens[resource])
    }

    /// Decides about `token` for `resource` and, when it is accepted, records it as the resource's highest.
    /// - Parameters:
    ///   - token: The writer's fencing token.
    ///   - resource: The resource it wants to write.
    /// - Returns: ``Outcome/accepted(newHighest:)`` or ``Outcome/stale(highest:)``.
    @discardableResult
    public mutating func accept(_ token: UInt64, for resource: String) -> Outcome {
        let outcome = self.check(token, for: resource)
        if case .accepted(let newHighest) = outcome { self.highestTokens[resource] = newHighest }
        return outcome
    }

    /// Whether `token` is one `resource` has not seen yet (higher than its highest, or the resource has accepted
    /// none): the tokens worth asking the lock server about before accepting them.
    /// - Parameters:
    ///   - token: The writer's fencing token.
    ///   - resource: The resource it wants to write.
    public func isUnseen(_ token: UInt64, for resource: String) -> Bool {
        Self.isUnseen(token, against: self.highestTokens[resource])
    }

    // MARK: - Stateless form

    /// The whole rule, for callers that keep the highest token elsewhere (next to the data, in one transaction).
    /// - Parameters:
    ///   - token: The writer's fencing token.
    ///   - highest: The highest token the resource has accepted, or `nil` when it has accepted none.
    /// - Returns: ``Outcome/accepted(newHighest:)`` when `token >= highest` (or there is no highest), otherwise
    ///   ``Outcome/stale(highest:)``.
    public static func check(_ token: UInt64, against highest: UInt64?) -> Outcome {
        guard let highest, token < highest else { return .accepted(newHighest: token) }
        return .stale(highest: highest)
    }

    /// Whether `token` is higher than `highest` (or there is no highest yet).
    /// - Parameters:
    ///   - token: The writer's fencing token.
    ///   - highest: The highest token the resource has accepted, or `nil` when it has accepted none.
    public static func isUnseen(_ token: UInt64, against highest: UInt64?) -> Bool {
        guard let highest else { return true }
        return token > highest
    }
}
