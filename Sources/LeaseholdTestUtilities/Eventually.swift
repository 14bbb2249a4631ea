/// Polls `condition` until it holds or `timeout` passes; for waiting on asynchronous effects in loopback tests
/// without sleeping a fixed time.
/// - Returns: Whether the condition held in time.
public func eventually(
    timeout: Duration = .seconds(10),
    every interval: Duration = .milliseconds(10),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// Polls `condition` every 10 ms until it holds, for a wait that must not run out.
/// - Parameters:
///   - timeout: How long to wait.
///   - what: What is awaited, for the error.
///   - condition: Checked at once, then every 10 ms.
/// - Throws: ``TimedOut`` naming `what` when `timeout` passes first, or what `condition` throws.
public func eventually(
    within timeout: Duration,
    _ what: @autoclosure () -> String,
    _ condition: () throws -> Bool
) async throws {
    guard try await eventually(timeout: timeout, condition) else {
        throw TimedOut(description: "timed out after \(timeout) waiting for \(what())")
    }
}

/// A bounded wait that ran out.
public struct TimedOut: Error, CustomStringConvertible {
    /// What was awaited, and for how long.
    public var description: String

    /// A timeout that says `description`.
    public init(description: String) {
        self.description = description
    }
}
