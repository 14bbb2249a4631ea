extension FenceGuard {
    /// The check plus the lock server's word: a token lower than the highest is ``Outcome/stale(highest:)`` (the
    /// lock server is not asked); a token the resource has not seen yet is accepted only if `validator` says it is
    /// `lockKey`'s current grant, and is ``Outcome/notCurrentGrant(highest:)`` otherwise. An equal token is
    /// accepted without asking: its holder has already written under it.
    ///
    /// This does not record anything, and the lock server may be slow: call it outside your lock, then record with
    /// ``accept(_:for:)`` under it, which checks again and so refuses a token that a newer writer overtook
    /// meanwhile.
    ///
    /// ```swift
    /// let outcome = try await fence.admit(token, for: resource, lockKey: lockKey, validator: lockClient)
    /// guard outcome.isAccepted else { throw outcome.error(token: token, resource: resource)! }
    /// ```
    /// - Parameters:
    ///   - token: The writer's fencing token.
    ///   - resource: The resource it wants to write.
    ///   - lockKey: The lock key the token was granted on.
    ///   - validator: Asks the lock server; `nil` makes this the pure ``check(_:for:)``.
    /// - Returns: The outcome.
    /// - Throws: The validator's error when the lock server cannot answer.
    public func admit(
        _ token: UInt64,
        for resource: String,
        lockKey: String,
        validator: (any FencingTokenValidator)?
    ) async throws -> Outcome {
        try await Self.admit(token, against: self.highestTokens[resource], lockKey: lockKey, validator: validator)
    }

    /// The stateless form of ``admit(_:for:lockKey:validator:)``, for callers that keep the highest token elsewhere.
    /// - Parameters:
    ///   - token: The writer's fencing token.
    ///   - highest: The highest token the resource has accepted, or `nil` when it has accepted none.
    ///   - lockKey: The lock key the token was granted on.
    ///   - validator: Asks the lock server; `nil` makes this the pure ``check(_:against:)``.
    /// - Returns: The outcome.
    /// - Throws: The validator's error when the lock server cannot answer.
    public static func admit(
        _ token: UInt64,
        against highest: UInt64?,
        lockKey: String,
        validator: (any FencingTokenValidator)?
    ) async throws -> Outcome {
        let outcome = Self.check(token, against: highest)
        guard outcome.isAccepted, let validator, Self.isUnseen(token, against: highest) else { return outcome }
        let isCurrent = try await validator.isCurrentGrant(lockKey: lockKey, fencingToken: token)
        return isCurrent ? outcome : .notCurrentGrant(highest: highest ?? 0)
    }
}
