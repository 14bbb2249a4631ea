import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A built executable of this package run as a child process, with its output collected.
final class ChildProcess: Sendable {
    /// The directory of the built products: `<package>/.build/debug`, found from this file's path.
    static let binDirectory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }  // the file, Support, FencedResourceTests, Tests
        return url.appendingPathComponent(".build/debug")
    }()

    private struct State {
        var output = ""
        var status: Int32?
        /// The pipe has reached its end: all output is in.
        var outputComplete = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// The state, in a box the process's handlers can hold on to.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let process: Process
    private let shared = Shared()

    /// Starts `name` from ``binDirectory`` with `arguments`; stdout and stderr are collected together.
    init(_ name: String, _ arguments: [String]) throws {
        let executable = Self.binDirectory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw MissingExecutable(path: executable.path)
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        self.process = process
        let shared = self.shared
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                shared.state.withLock { $0.outputComplete = true }
                return
            }
            shared.state.withLock { $0.output += String(decoding: data, as: UTF8.self) }
        }
        process.terminationHandler = { process in
            let waiters = shared.state.withLock { state in
                state.status = process.terminationStatus
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        try process.run()
    }

    /// Everything the process printed so far.
    var output: String { self.shared.state.withLock { $0.output } }

    /// The process id.
    var pid: Int32 { self.process.processIdentifier }

    /// Sends a signal.
    func signal(_ signal: Int32) { kill(self.process.processIdentifier, signal) }

    /// Waits for the process to exit, at most `timeout`; kills it if it has not.
    /// - Returns: Its exit status, or `nil` when it had to be killed.
    func waitForExit(timeout: Duration) async -> Int32? {
        let exited = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let done = self.shared.state.withLock { state -> Bool in
                        if state.status != nil { return true }
                        state.waiters.append(continuation)
                        return false
                    }
                    if done { continuation.resume() }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next()!
            if !first { self.signal(SIGKILL) }
            group.cancelAll()  // ends the timer; a killed process still reports its exit
            await group.waitForAll()
            return first
        }
        // The last output may still be in the pipe when the exit is reported.
        let deadline = ContinuousClock.now + .seconds(2)
        while !self.shared.state.withLock({ $0.outputComplete }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return exited ? self.shared.state.withLock { $0.status } : nil
    }

    /// Waits until the output contains a match of `pattern`, at most `timeout`.
    /// - Returns: The first capture group of the first match, or `nil` on timeout or exit.
    func waitForOutput(_ pattern: String, timeout: Duration) async throws -> String? {
        let regex = try Regex(pattern)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (output, status) = self.shared.state.withLock { ($0.output, $0.status) }
            if let match = output.firstMatch(of: regex) {
                return match.output.count > 1 ? match.output[1].substring.map(String.init) : String(match.output[0].substring ?? "")
            }
            if status != nil { return nil }
            // Output arrives on a handler thread; poll it at a short interval, bounded by the deadline.
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

/// The executable has not been built: run `swift build` first.
struct MissingExecutable: Error, CustomStringConvertible {
    var path: String
    var description: String { "\(self.path) is missing: run `swift build` before `swift test`" }
}
