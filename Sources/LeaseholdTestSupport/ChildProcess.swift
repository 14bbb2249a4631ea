import Foundation
public import LeaseholdTestUtilities
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A built executable run as a child process of a test.
///
/// Its stdout and stderr go to files, never to pipes, which a chatty child could fill and then block on, and it
/// inherits no other descriptor of the test process (see ``Spawn``). Signals
/// are sent only until the child has been reaped, so that they never reach a process that reused its pid, and
/// every wait is bounded. The child's environment is the test's without any `LEASEHOLD_*` variable, so that a
/// developer's `LEASEHOLD_SERVER` or `LEASEHOLD_TOKEN` cannot leak in.
///
/// ```swift
/// let directory = try TemporaryDirectory("e2e")
/// let status = try ChildProcess("leasehold", ["status", "jobs/1", "--server", server.address], in: directory)
/// defer { status.killIfRunning() }
/// #expect(try await status.exitStatus(within: .seconds(10)) == 0)
/// print(status.standardOutput)
/// ```
public final class ChildProcess: Sendable {
    /// How a child process ended.
    public typealias Termination = Spawn.Termination

    /// One of the child's two outputs.
    public enum Stream: Sendable {
        /// Stdout, in ``standardOutputPath``.
        case standardOutput
        /// Stderr, in ``standardErrorPath``.
        case standardError
    }

    /// The child could not be started, or did not do what a test waited for in time.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong, with the end of the child's output where it helps.
        public var description: String

        /// A failure that says `description`.
        public init(_ description: String) {
            self.description = description
        }
    }

    /// The executable's name and first argument, such as `leasehold serve`, for messages.
    public let name: String
    /// The process id.
    public let pid: Int32
    /// The file that receives stdout.
    public let standardOutputPath: String
    /// The file that receives stderr; the same as ``standardOutputPath`` when the two are interleaved in one file.
    public let standardErrorPath: String
    private let child: Spawn

    /// Starts an executable.
    /// - Parameters:
    ///   - executable: Its path; ``BuiltExecutable/path(named:)`` for this package's products.
    ///   - arguments: The program's arguments.
    ///   - environment: Added to the test's environment, from which every `LEASEHOLD_*` variable is removed.
    ///   - standardOutputPath: The file for stdout (created, or emptied).
    ///   - standardErrorPath: The file for stderr; pass `standardOutputPath` to interleave both in one file.
    /// - Throws: ``Failure`` when there is no executable at `executable` (run `swift build` first), or what
    ///   creating the files or starting the process throws.
    public init(
        executable: String,
        arguments: [String],
        environment: [String: String] = [:],
        standardOutputPath: String,
        standardErrorPath: String
    ) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure("no executable at \(executable): run `swift build` before `swift test`")
        }
        var childEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LEASEHOLD_") }
        childEnvironment.merge(environment) { $1 }
        let child = try Spawn.start(
            executable,
            arguments,
            environment: childEnvironment,
            standardOutputPath: standardOutputPath,
            standardErrorPath: standardErrorPath
        )

        let program = URL(fileURLWithPath: executable).lastPathComponent
        self.name = arguments.first.map { "\(program) \($0)" } ?? program
        self.pid = child.pid
        self.standardOutputPath = standardOutputPath
        self.standardErrorPath = standardErrorPath
        self.child = child
    }

    /// Starts a built executable of this package with its stdout and stderr in two new files in `directory`.
    /// - Parameters:
    ///   - name: The product, such as `leasehold` (see ``BuiltExecutable/path(named:)``).
    ///   - arguments: The program's arguments.
    ///   - environment: Added to the test's environment, from which every `LEASEHOLD_*` variable is removed.
    ///   - directory: Where the output files go, named after the executable and its first argument.
    /// - Throws: As ``init(executable:arguments:environment:standardOutputPath:standardErrorPath:)``.
    public convenience init(
        _ name: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        in directory: TemporaryDirectory
    ) throws {
        let stem = "\(name)-\(arguments.first ?? "")-\(UUID().uuidString.prefix(6))"
        try self.init(
            executable: BuiltExecutable.path(named: name),
            arguments: arguments,
            environment: environment,
            standardOutputPath: directory.file("\(stem).out"),
            standardErrorPath: directory.file("\(stem).err")
        )
    }

    // MARK: - Output

    /// Everything written to stdout so far.
    public var standardOutput: String { Self.contents(of: self.standardOutputPath) }

    /// Everything written to stderr so far.
    public var standardError: String { Self.contents(of: self.standardErrorPath) }

    /// Complete lines written to stdout so far.
    public var outputLines: [String] { Self.completeLines(of: self.standardOutput).map(String.init) }

    /// Waits until stdout has at least `count` complete lines.
    /// - Returns: The lines.
    /// - Throws: ``TimedOut`` when `timeout` passes first.
    @discardableResult
    public func outputLines(atLeast count: Int, within timeout: Duration = .seconds(10)) async throws -> [String] {
        try await eventually(within: timeout, "\(count) lines from \(self.name); stderr: \(self.standardError)") {
            self.outputLines.count >= count
        }
        return self.outputLines
    }

    /// Waits for the first complete line of `stream` in which `match` finds a value, such as the port in the line
    /// where a server says it listens.
    /// - Parameters:
    ///   - stream: The output to read.
    ///   - timeout: How long to wait.
    ///   - what: What the line says, for the error (`listening`).
    ///   - match: The value in a line, or nil.
    /// - Returns: The first value found.
    /// - Throws: ``Failure`` with the end of `stream` when the child exits first or `timeout` passes.
    public func firstLine<Value>(
        of stream: Stream = .standardError,
        within timeout: Duration,
        saying what: String,
        _ match: (Substring) -> Value?
    ) async throws -> Value {
        let deadline = ContinuousClock.now + timeout
        while true {
            // Read the exit first: a line written just before exiting is then in the file.
            let termination = self.termination
            for line in Self.completeLines(of: Self.contents(of: self.path(of: stream))) {
                if let value = match(line) { return value }
            }
            if let termination {
                throw Failure("\(self.name) exited (\(termination)) before \(what):\n\(self.tail(of: stream))")
            }
            if ContinuousClock.now >= deadline {
                throw Failure("\(self.name) did not say \(what) within \(timeout):\n\(self.tail(of: stream))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The last lines of `stream`, for failure messages.
    public func tail(of stream: Stream = .standardError, lines count: Int = 30) -> String {
        let path = self.path(of: stream)
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(nothing at \(path))"
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(count).joined(separator: "\n")
    }

    // MARK: - Signals and exit

    /// How the child ended, once it has been reaped; nil while it runs.
    public var termination: Termination? { self.child.termination }

    /// Whether the child has ended and been reaped.
    public var hasExited: Bool { self.termination != nil }

    /// Sends `signal`, unless the child has been reaped (its pid may then belong to another process). Does not
    /// wait.
    public func send(_ signal: Int32) {
        guard self.termination == nil else { return }
        _ = kill(self.pid, signal)
    }

    /// SIGKILLs the child (after a SIGCONT, should it be stopped) unless it has ended, and waits at most 5 s until
    /// it has been reaped: for `defer`, so that no test leaves processes behind.
    public func killIfRunning() {
        guard self.termination == nil else { return }
        self.send(SIGCONT)
        self.send(SIGKILL)
        let deadline = ContinuousClock.now + .seconds(5)
        while self.termination == nil, ContinuousClock.now < deadline { usleep(10_000) }
    }

    /// Waits until the child has ended.
    /// - Parameter timeout: How long to wait.
    /// - Returns: How it ended.
    /// - Throws: ``Failure`` when it still runs after `timeout`; it is left running.
    @discardableResult
    public func waitForExit(timeout: Duration) async throws -> Termination {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let termination = self.termination { return termination }
            guard ContinuousClock.now < deadline else {
                throw Failure("\(self.name) (pid \(self.pid)) still runs after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits until the child has ended, as a shell would report it.
    /// - Parameter timeout: How long to wait.
    /// - Returns: Its exit status, or 128 + the signal that ended it.
    /// - Throws: ``Failure`` when it still runs after `timeout`.
    @discardableResult
    public func exitStatus(within timeout: Duration = .seconds(10)) async throws -> Int32 {
        try await self.waitForExit(timeout: timeout).shellStatus
    }

    /// Blocks the calling thread until the child ends: only for short commands, from synchronous code.
    public func waitUntilExit() { self.child.waitForExit() }

    // MARK: - Internal

    private func path(of stream: Stream) -> String {
        switch stream {
        case .standardOutput: self.standardOutputPath
        case .standardError: self.standardErrorPath
        }
    }

    private static func contents(of path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// The lines of `text` up to its last newline: a line still being written is left out.
    private static func completeLines(of text: String) -> [Substring] {
        guard let end = text.lastIndex(of: "\n") else { return [] }
        return text[..<end].split(separator: "\n", omittingEmptySubsequences: false)
    }
}
