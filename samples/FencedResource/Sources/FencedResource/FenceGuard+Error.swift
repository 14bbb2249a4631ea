public import LeaseholdWire

extension FenceGuard.Outcome {
    /// The error to answer a refused write with: `STALE_FENCING_TOKEN` carrying the resource's highest token in
    /// ``LeaseholdError/highestToken`` (`Status.highest_token` on the wire).
    /// - Parameters:
    ///   - token: The token that was refused.
    ///   - resource: The resource it wanted to write.
    /// - Returns: `nil` for ``accepted(newHighest:)``.
    public func error(token: UInt64, resource: String) -> LeaseholdError? {
        switch self {
        case .accepted:
            return nil
        case .stale(let highest):
            return LeaseholdError(
                code: .staleFencingToken,
                message: "fencing token \(token) is stale: \(resource) has accepted token \(highest)",
                highestToken: highest
            )
        case .notCurrentGrant(let highest):
            return LeaseholdError(
                code: .staleFencingToken,
                message: "fencing token \(token) is not the current grant of its lock: the lock server says it was "
                    + "released or expired",
                highestToken: highest
            )
        }
    }
}
