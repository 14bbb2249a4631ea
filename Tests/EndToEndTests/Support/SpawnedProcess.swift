import Foundation
import LeaseholdTestSupport
import Testing

/// A built executable run as a child process of the test, with stdout and stderr captured in files (no pipes
/// to drain, nothing to deadlock) and every wait bounded.
final class SpawnedProcess {
    /// The folder of the built products: `.build/debug` next to this package's `Package.swift`, or
    /// `LEASEHOLD_BIN_DIR` when set.
    static let binDirectory: String = {
        if let directory = ProcessInfo.processInfo.environment["LEASEHOLD_BIN_DIR"] { return directory }
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { root.deleteLastPathComponent() }  // Support/, EndToEndTests/, Tests/, the file
        return root.appendingPathComponent(".build/debug").path
    }()

    /// The path of the built `leasehold`.
    static var leasehold: String { binDirectory + "/leasehold" }

    let name: String
    private let process = Process()
    private let stdoutPath: String
    private let stderrPath: String

    /// Starts `executable` (the built `leasehold` unless told otherwise) with `arguments`.
    /// - Parameters:
    ///   - arguments: The program's arguments.
    ///   - executable: The program's path.
    ///   - environment: Added to the test's environment, from which every `LEASEHOLD_*` variable is removed.
    ///   - directory: Where the output files go.
    init(
        _ arguments: [String],
        executable: String = SpawnedProcess.leasehold,
        environment: [String: String] = [:],
        in directory: TemporaryDirectory
    ) throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: executable),
            "\(executable) is missing: run `swift build` before the end-to-end tests"
        )
        let name =
            "\(URL(fileURLWithPath: executable).lastPathComponent)-\(arguments.first ?? "")-\(UUID().uuidString.prefix(6))"
        self.name = name
        self.stdoutPath = directory.file("\(name).out")
        self.stderrPath = directory.file("\(name).err")
        _ = FileManager.default.createFile(atPath: self.stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: self.stderrPath, contents: nil)
        var childEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LEASEHOLD_") }
        childEnvironment.merge(environment) { $1 }
        self.process.executableURL = URL(fileURLWithPath: executable)
        self.process.arguments = arguments
        self.process.environment = childEnvironment
        self.process.standardInput = FileHandle.nullDevice
        self.process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: self.stdoutPath))
        self.process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: self.stderrPath))
        try self.process.run()
    }

    /// The process id.
    var pid: Int32 { self.process.processIdentifier }

    /// Everything written to stdout so far.
    var standardOutput: String { (try? String(contentsOfFile: self.stdoutPath, encoding: .utf8)) ?? "" }

    /// Everything written to stderr so far.
    var standardError: String { (try? String(contentsOfFile: self.stderrPath, encoding: .utf8)) ?? "" }

    /// Complete lines written to stdout so far.
    var outputLines: [String] {
        let output = self.standardOutput
        guard let end = output.lastIndex(of: "\n") else { return [] }
        return output[..<end].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Sends `signal`.
    func send(_ signal: Int32) {
        if self.process.isRunning { kill(self.pid, signal) }
    }

    /// SIGKILLs the process if it still runs, and waits (at most 5 s) for it to be gone: for `defer`, so that no
    /// test leaves processes behind.
    func killIfRunning() {
        guard self.process.isRunning else { return }
        kill(self.pid, SIGCONT)
        kill(self.pid, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(5)
        while self.process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
    }

    /// Waits for the process to end.
    /// - Returns: Its exit status, or 128 + the signal that killed it.
    /// - Throws: When it still runs after `timeout`.
    @discardableResult
    func exitStatus(within timeout: Duration = .seconds(10)) async throws -> Int32 {
        try await eventually(within: timeout, "\(self.name) to exit") { !self.process.isRunning }
        self.process.waitUntilExit()
        let status = self.process.terminationStatus
        return self.process.terminationReason == .uncaughtSignal ? 128 + status : status
    }

    /// Blocks until the process ends: only for short commands (`status`).
    func waitUntilExit() { self.process.waitUntilExit() }

    /// Waits until stdout has at least `count` complete lines.
    /// - Returns: The lines.
    @discardableResult
    func outputLines(atLeast count: Int, within timeout: Duration = .seconds(10)) async throws -> [String] {
        try await eventually(within: timeout, "\(count) lines from \(self.name); stderr: \(self.standardError)") {
            self.outputLines.count >= count
        }
        return self.outputLines
    }
}

/// Polls `condition` every 10 ms until it holds.
/// - Throws: A test failure naming `what` when `timeout` passes first.
func eventually(
    within timeout: Duration,
    _ what: @autoclosure () -> String,
    _ condition: () throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else {
            throw TimedOut(description: "timed out after \(timeout) waiting for \(what())")
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// A bounded wait that ran out.
struct TimedOut: Error, CustomStringConvertible {
    var description: String
}
