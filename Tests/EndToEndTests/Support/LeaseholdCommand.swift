import LeaseholdTestSupport
import LeaseholdTestUtilities

/// A finished `leasehold` run.
struct CommandResult {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// Runs `leasehold arguments…` to completion (at most `timeout`).
func leasehold(
    _ arguments: [String],
    environment: [String: String] = [:],
    in directory: TemporaryDirectory,
    timeout: Duration = .seconds(15)
) async throws -> CommandResult {
    let process = try ChildProcess("leasehold", arguments, environment: environment, in: directory)
    defer { process.killIfRunning() }
    let status = try await process.exitStatus(within: timeout)
    return CommandResult(status: status, standardOutput: process.standardOutput, standardError: process.standardError)
}
