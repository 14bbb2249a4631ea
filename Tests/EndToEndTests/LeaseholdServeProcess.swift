import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A `leasehold serve` child process on 127.0.0.1 and a port the kernel picks, for end-to-end tests that need the
/// real executable: it can be stopped with SIGKILL and started again on the same data file.
///
/// Its stderr goes to a log file (never to a pipe, which a chatty server could fill and block on); the port is
/// read from the `listening address=…` line there.
///
/// ```swift
/// let server = try await LeaseholdServeProcess.start(dataPath: dir.file("leasehold.db"), logPath: dir.file("0.log"))
/// defer { server.kill() }
/// let connection = try await RPCConnection.connect(host: "127.0.0.1", port: server.port, hello: HelloRequest())
/// server.kill()
/// try await server.waitForExit(timeout: .seconds(5))
/// ```
final class LeaseholdServeProcess {
    /// Why a server process could not be started or did not stop in time.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The port the server listens on.
    let port: Int
    /// The process id.
    let pid: pid_t
    /// The file that receives the server's stderr.
    let logPath: String
    private let process: Process
    private let exit: ExitRecord

    private init(process: Process, port: Int, logPath: String, exit: ExitRecord) {
        self.process = process
        self.pid = process.processIdentifier
        self.port = port
        self.logPath = logPath
        self.exit = exit
    }

    /// The `leasehold` executable: `$LEASEHOLD_EXECUTABLE` if set, else `.build/debug/leasehold` under the package
    /// root, which is found from this file's path.
    static var executablePath: String {
        if let path = ProcessInfo.processInfo.environment["LEASEHOLD_EXECUTABLE"], !path.isEmpty { return path }
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // EndToEndTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // the package root
        return root.appendingPathComponent(".build/debug/leasehold").path
    }

    /// Starts `leasehold serve --listen listen --data dataPath` and waits until it listens.
    /// - Parameters:
    ///   - dataPath: The SQLite file.
    ///   - listen: The address; port 0 lets the kernel pick one (see ``port``).
    ///   - logPath: Where the server's stderr goes (created or truncated).
    ///   - arguments: More `serve` options, such as `["--sync", "full"]`.
    ///   - timeout: How long the process may take to start listening.
    /// - Returns: The running server.
    /// - Throws: ``Failure`` when the executable is missing, the process exits early or does not listen in time;
    ///   the message then carries the end of its log.
    static func start(
        dataPath: String, listen: String = "127.0.0.1:0", logPath: String, arguments: [String] = [],
        timeout: Duration = .seconds(15)
    ) async throws -> LeaseholdServeProcess {
        let executable = Self.executablePath
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure(description: "no executable at \(executable); run `swift build` first")
        }
        guard FileManager.default.createFile(atPath: logPath, contents: nil),
            let log = FileHandle(forWritingAtPath: logPath)
        else {
            throw Failure(description: "cannot create the log file \(logPath)")
        }
        defer { try? log.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--listen", listen, "--data", dataPath] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        let exit = ExitRecord()
        process.terminationHandler = { process in exit.record(process.terminationReason, process.terminationStatus) }
        try process.run()

        let deadline = ContinuousClock.now + timeout
        while true {
            if let port = Self.listeningPort(inLogAt: logPath) {
                return LeaseholdServeProcess(process: process, port: port, logPath: logPath, exit: exit)
            }
            if let status = exit.status {
                throw Failure(
                    description: "leasehold serve exited (\(status)) before listening:\n\(Self.tail(logPath))")
            }
            if ContinuousClock.now >= deadline {
                sendSignal(SIGKILL, to: process.processIdentifier)
                throw Failure(description: "leasehold serve did not listen within \(timeout):\n\(Self.tail(logPath))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Sends SIGKILL, unless the process has exited already. Does not wait.
    func kill() {
        self.signal(SIGKILL)
    }

    /// ``kill()`` as a closure that any task may call, e.g. the moment it receives an answer.
    var killer: @Sendable () -> Void {
        let (exit, pid) = (self.exit, self.pid)
        return {
            guard exit.status == nil else { return }
            sendSignal(SIGKILL, to: pid)
        }
    }

    /// Sends SIGTERM (a graceful stop), unless the process has exited already. Does not wait.
    func terminate() {
        self.signal(SIGTERM)
    }

    /// Waits until the process has exited.
    /// - Parameter timeout: How long to wait.
    /// - Returns: How it ended, such as `signal 9`.
    /// - Throws: ``Failure`` when it is still running after `timeout`.
    @discardableResult
    func waitForExit(timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = self.exit.status { return status }
            guard ContinuousClock.now < deadline else {
                throw Failure(description: "leasehold serve (pid \(self.pid)) still runs after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Whether the process has exited (and been reaped).
    var hasExited: Bool { self.exit.status != nil }

    /// The last lines of the server's log, for failure messages.
    var logTail: String { Self.tail(self.logPath) }

    private func signal(_ signal: Int32) {
        // The termination handler runs after the child is reaped; until then its pid cannot be reused.
        guard self.exit.status == nil else { return }
        sendSignal(signal, to: self.pid)
    }

    private static func listeningPort(inLogAt path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.contains("listening") {
            // `… address=[IPv4]127.0.0.1/127.0.0.1:54321 …`
            guard let range = line.range(of: "address=") else { continue }
            let address = line[range.upperBound...].prefix { !$0.isWhitespace }
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...])
            else { continue }
            return port
        }
        return nil
    }

    private static func tail(_ path: String, lines: Int = 30) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log at \(path))"
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// How a child process ended, set once by its termination handler.
private final class ExitRecord: Sendable {
    private let state = Mutex<String?>(nil)

    var status: String? { self.state.withLock { $0 } }

    func record(_ reason: Process.TerminationReason, _ status: Int32) {
        let text = reason == .uncaughtSignal ? "signal \(status)" : "exit \(status)"
        self.state.withLock { $0 = text }
    }
}

/// `kill(2)`, reachable from types that have a `kill()` of their own.
private func sendSignal(_ signal: Int32, to pid: pid_t) {
    #if canImport(Glibc)
    _ = Glibc.kill(pid, signal)
    #elseif canImport(Musl)
    _ = Musl.kill(pid, signal)
    #elseif canImport(Darwin)
    _ = Darwin.kill(pid, signal)
    #endif
}
