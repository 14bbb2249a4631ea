#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The command that `leasehold lock` runs, started with `posix_spawnp` in a process group of its own.
///
/// The group is what makes stopping it safe: a lost lock signals the whole group, so a shell script's children
/// (`sh -c 'a | b'`) stop too, not just the shell. When `leasehold lock` runs in the foreground of a terminal,
/// the terminal is handed to the group, so that the command can read it and Ctrl-C reaches it; it is taken back
/// when the command ends.
///
/// stdin, stdout and stderr are inherited. Signals the child should not inherit as ignored or blocked (the CLI
/// traps SIGINT, SIGTERM and SIGHUP) are reset to their defaults in the child.
struct GuardedCommand: Sendable {
    /// The child's process id, which is also its process group id.
    let pid: pid_t
    private let ownsTerminal: Bool

    /// How a child ended.
    enum Termination: Equatable, Sendable {
        case exited(Int32)
        case signaled(Int32)

        /// The shell's convention: the exit code, or 128 + the signal.
        var exitStatus: Int32 {
            switch self {
            case .exited(let code): code
            case .signaled(let signal): 128 + signal
            }
        }
    }

    /// Why a command could not be started.
    struct SpawnFailure: Error {
        var command: String
        var errno: Int32
    }

    /// Starts `arguments[0]`, searched in `PATH`.
    /// - Parameters:
    ///   - arguments: The command and its arguments.
    ///   - environment: The child's whole environment.
    /// - Throws: ``SpawnFailure`` with the `errno` of `posix_spawnp` (`ENOENT`, `EACCES`, …).
    static func spawn(_ arguments: [String], environment: [String: String]) throws -> GuardedCommand {
        precondition(!arguments.isEmpty, "validated by LockCommand")
        #if canImport(Darwin)
        var attributes: posix_spawnattr_t?
        #else
        var attributes = posix_spawnattr_t()
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        )
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGTTIN, SIGTTOU, SIGTSTP, SIGUSR1, SIGUSR2]
        {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], nil, &attributes, argv, envp)
        guard result == 0 else { throw SpawnFailure(command: arguments[0], errno: result) }

        // Hand the terminal over only when this process is in its foreground; a background `leasehold lock &`
        // leaves it alone. SIGTTOU is ignored here (not in the child) so that taking it back later works.
        let ownsTerminal = isatty(STDIN_FILENO) == 1 && tcgetpgrp(STDIN_FILENO) == getpgrp()
        if ownsTerminal {
            signal(SIGTTOU, SIG_IGN)
            tcsetpgrp(STDIN_FILENO, pid)
            // The child may have touched the terminal before it was its own, and been stopped for it.
            kill(-pid, SIGCONT)
        }
        return GuardedCommand(pid: pid, ownsTerminal: ownsTerminal)
    }

    /// Reaps the child if it has ended, without waiting.
    /// - Returns: How it ended, or `nil` while it runs.
    func poll() -> Termination? {
        var status: Int32 = 0
        let result = waitpid(self.pid, &status, WNOHANG)
        guard result == self.pid else { return nil }
        self.takeBackTerminal()
        // The WIFEXITED / WTERMSIG macros do not import into Swift; this is their definition.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    /// Sends `signal` to the child's whole process group.
    func signalGroup(_ signal: Int32) {
        kill(-self.pid, signal)
    }

    /// Stops the child: SIGTERM to its group, then SIGKILL to the group once `grace` has passed or the child
    /// has ended (so that nothing it started outlives it), then reaps it.
    /// - Parameters:
    ///   - grace: How long the command gets to exit cleanly after SIGTERM.
    ///   - pollInterval: How often to check whether it has.
    /// - Returns: How the child ended.
    func stop(grace: Duration, pollInterval: Duration = .milliseconds(10)) async -> Termination {
        self.signalGroup(SIGTERM)
        let deadline = ContinuousClock.now + grace
        var termination = self.poll()
        while termination == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: pollInterval)
            termination = self.poll()
        }
        self.signalGroup(SIGKILL)
        while termination == nil {
            try? await Task.sleep(for: pollInterval)
            termination = self.poll()
        }
        return termination!
    }

    private func takeBackTerminal() {
        if self.ownsTerminal { tcsetpgrp(STDIN_FILENO, getpgrp()) }
    }
}
