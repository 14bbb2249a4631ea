import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Starts a child process that inherits nothing from the test process but the three descriptors it is given.
///
/// Foundation's `Process` and `posix_spawn` alone hand every descriptor that is not close-on-exec to the child, and
/// neither SwiftNIO's sockets nor Foundation's pipes and file handles are: a child would keep the test's sockets
/// and pipe ends open for as long as it lives. A peer would then never see a test's connection close, and a read
/// to the end of a pipe would never return. Here the child gets stdin from `/dev/null`, stdout and stderr in files,
/// and every other descriptor closed.
///
/// ```swift
/// let child = try Spawn.start("/usr/bin/python3", ["script.py"], standardOutputPath: out, standardErrorPath: err)
/// let termination = child.waitForExit()  // blocks; or poll `child.termination`
/// ```
public final class Spawn: Sendable {
    /// How a child process ended.
    public enum Termination: Hashable, Sendable, CustomStringConvertible {
        /// It exited with this status.
        case exited(Int32)
        /// This signal ended it.
        case signaled(Int32)

        /// What a shell reports: the exit status, or 128 + the signal.
        public var shellStatus: Int32 {
            switch self {
            case .exited(let status): status
            case .signaled(let signal): 128 + signal
            }
        }

        /// `exit 0` or `signal 9`.
        public var description: String {
            switch self {
            case .exited(let status): "exit \(status)"
            case .signaled(let signal): "signal \(signal)"
            }
        }
    }

    /// The child could not be started.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// The child's process id.
    public let pid: Int32
    private let ended = Mutex<Termination?>(nil)

    private init(pid: Int32) {
        self.pid = pid
    }

    /// How the child ended, once it has been reaped; nil while it runs (its pid is then still its own).
    public var termination: Termination? { self.ended.withLock { $0 } }

    /// Starts `executable` and a thread that reaps it.
    /// - Parameters:
    ///   - executable: An absolute path.
    ///   - arguments: Its arguments (not including its name).
    ///   - environment: Its whole environment; the test process's when nil.
    ///   - standardOutputPath: A file for stdout, created or emptied.
    ///   - standardErrorPath: A file for stderr, or the same path to interleave both.
    /// - Throws: ``Failure`` when the child cannot be started.
    public static func start(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        standardOutputPath: String,
        standardErrorPath: String
    ) throws -> Spawn {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if standardErrorPath == standardOutputPath {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, standardErrorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        Self.closeDescriptors(from: 3, in: &actions)

        let environment = environment ?? ProcessInfo.processInfo.environment
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer {
            for pointer in envp { free(pointer) }
            for pointer in argv { free(pointer) }
        }
        var pid: pid_t = 0
        let error = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard error == 0 else {
            throw Failure(description: "cannot run \(executable): \(String(cString: strerror(error)))")
        }
        let child = Spawn(pid: pid)
        let reaper = Thread { [pid] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                guard errno == EINTR else { return }
            }
            let signal = status & 0x7f
            child.ended.withLock { $0 = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal) }
        }
        reaper.name = "leasehold-test-reaper"
        reaper.start()
        return child
    }

    /// Blocks the calling thread until the child has ended and been reaped: for short commands only.
    /// - Returns: How it ended.
    @discardableResult
    public func waitForExit() -> Termination {
        while true {
            if let termination = self.termination { return termination }
            usleep(2_000)
        }
    }

    /// Adds actions that close every descriptor from `lowest` up in the child: glibc's
    /// `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; looked up at run time, as Swift's Glibc module
    /// does not declare it), or else a close action for each descriptor open now.
    private static func closeDescriptors(from lowest: Int32, in actions: inout posix_spawn_file_actions_t) {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            let addCloseFrom = unsafeBitCast(symbol, to: AddCloseFrom.self)
            if addCloseFrom(&actions, lowest) == 0 { return }
        }
        // A descriptor closed before the spawn makes its close action a no-op: glibc ignores EBADF there.
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in open.compactMap({ Int32($0) }) where descriptor >= lowest {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
    }
}
