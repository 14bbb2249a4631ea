public import LeaseholdClient
import LeaseholdWire

/// Asks a lock server whether a fencing token is still the current grant of its lock key (`Validate`, docs/protocol.md).
///
/// ``FenceGuard/admit(_:for:lockKey:validator:)`` asks only about tokens a resource has not seen yet, so that a
/// token whose lock was already released is refused even if no newer holder has written. ``LeaseholdClient``
/// conforms; ``LockServerValidator`` connects lazily; ``ClosureTokenValidator`` wraps any other check.
public protocol FencingTokenValidator: Sendable {
    /// Whether `fencingToken` is the current grant of `lockKey`.
    /// - Parameters:
    ///   - lockKey: The key the token was granted on.
    ///   - fencingToken: The token to check.
    /// - Returns: `true` when the key is held under exactly this token right now.
    /// - Throws: When the lock server cannot answer. Callers should then refuse the write (fail closed).
    func isCurrentGrant(lockKey: String, fencingToken: UInt64) async throws -> Bool
}

extension LeaseholdClient: FencingTokenValidator {
    /// Asks the server with `Validate`.
    /// - Parameters:
    ///   - lockKey: The key the token was granted on.
    ///   - fencingToken: The token to check.
    /// - Returns: `ValidateResponse.valid`.
    /// - Throws: ``LeaseholdError`` (`UNAVAILABLE`, `DEADLINE_EXCEEDED`, `INVALID_ARGUMENT`).
    public func isCurrentGrant(lockKey: String, fencingToken: UInt64) async throws -> Bool {
        try await self.validate(lockKey, fencingToken: fencingToken).valid
    }
}

/// A validator that runs a closure: for tests, or for a lock server reached some other way.
///
/// ```swift
/// let validator = ClosureTokenValidator { key, token in try await myLockClient.isCurrent(key, token) }
/// ```
public struct ClosureTokenValidator: FencingTokenValidator {
    private let body: @Sendable (String, UInt64) async throws -> Bool

    /// Creates a validator.
    /// - Parameter body: Gets the lock key and the token; returns whether the token is the key's current grant.
    public init(_ body: @escaping @Sendable (_ lockKey: String, _ fencingToken: UInt64) async throws -> Bool) {
        self.body = body
    }

    /// Runs the closure.
    /// - Parameters:
    ///   - lockKey: The key the token was granted on.
    ///   - fencingToken: The token to check.
    /// - Returns: What the closure returns.
    /// - Throws: What the closure throws.
    public func isCurrentGrant(lockKey: String, fencingToken: UInt64) async throws -> Bool {
        try await self.body(lockKey, fencingToken)
    }
}
