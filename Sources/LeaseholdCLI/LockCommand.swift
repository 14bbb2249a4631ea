import ArgumentParser
import Foundation
import LeaseholdClient
import LeaseholdCore
import LeaseholdWire
import Synchronization
import UnixSignals

/// `leasehold lock KEY -- COMMAND ARGS…`: `flock(1)` for a cluster.
struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Run a command while holding a lock, like flock(1) for a whole cluster.",
        discussion: """
            Waits for KEY (in a first-come, first-served queue), runs COMMAND while the lock is held, then \
            releases it. COMMAND sees its environment plus LEASEHOLD_KEY and LEASEHOLD_FENCING_TOKEN, a number \
            that grows with every grant: pass it along with every write to a shared resource, so that the \
            resource can refuse writes from an older holder. stdin, stdout and stderr are COMMAND's own, and its \
            exit status is this command's (128 + N when it was killed by signal N).

            While COMMAND runs, a session with the server proves this process is alive (a keepalive every TTL/3). \
            If the lock can no longer be trusted (keepalives have failed for almost the TTL, the session \
            expired, or an admin force-released the lock), COMMAND's process group gets SIGTERM, then SIGKILL \
            after a grace of TTL/10 (100 ms to 2 s), early enough that it is gone before the server could grant \
            the lock to anyone else; then this exits with status 2 and says so on stderr. Choose a TTL longer \
            than the pauses your network can have.

            SIGINT, SIGTERM or SIGHUP to this process stop COMMAND the same way, release the lock, and exit with \
            128 + the signal. COMMAND runs in its own process group; in the foreground of a terminal it gets the \
            terminal, so Ctrl-C reaches it directly.

            Examples:
              $ leasehold lock jobs/nightly -- ./nightly-report.sh
              $ leasehold lock db/migrate --wait 0 -- sh -c 'migrate --fencing-token "$LEASEHOLD_FENCING_TOKEN"'
              $ leasehold lock leader --ttl 5s --wait 10m -- ./serve-as-leader

            Exit status: COMMAND's; 1 when the lock is held (--wait 0) or the wait ran out; 2 when the lock was \
            lost while COMMAND ran; 64 bad usage; 69 server unreachable; 77 not allowed; 126/127 COMMAND not \
            executable / not found; 70 anything else.
            """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The key to lock, such as jobs/nightly (1–512 bytes of UTF-8).")
    var key: String

    @Option(
        help: ArgumentHelp(
            "Session TTL, 1s to 300s: how long the server keeps the lock after this process stops answering.",
            valueName: "duration"
        )
    )
    var ttl = DurationArgument(.seconds(10), text: "10s")

    @Option(
        help: ArgumentHelp(
            "How long to wait for the lock when it is held; 0 fails at once, naming the holder.",
            valueName: "duration"
        )
    )
    var wait = DurationArgument(.seconds(30), text: "30s")

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run, after `--`.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard !self.command.isEmpty else {
            throw ValidationError("missing the command to run: leasehold lock KEY [options] -- COMMAND [ARGS…]")
        }
        guard (Duration.seconds(1)...Duration.seconds(300)).contains(self.ttl.duration) else {
            throw ValidationError("--ttl must be between 1s and 300s, not \(self.ttl)")
        }
        guard self.wait.duration <= .milliseconds(Int64(UInt32.max)) else {
            throw ValidationError("--wait is too long: \(self.wait)")
        }
        guard !self.key.isEmpty, self.key.utf8.count <= 512, !self.key.utf8.contains(0) else {
            throw ValidationError("KEY must be 1–512 bytes of UTF-8 without NUL")
        }
    }

    func run() async throws {
        let signals = SignalLatch()
        await signals.trap(.sigint, .sigterm, .sighup)
        var status: Int32 = 0
        try await CommandFailure.reporting(server: self.client.address) {
            status = try await self.lockAndRun(signals: signals)
        }
        if status != 0 { throw ExitCode(status) }
    }

    // MARK: - Phases

    /// Takes the lock, runs the command, cleans up.
    /// - Returns: The exit status.
    private func lockAndRun(signals: SignalLatch) async throws -> Int32 {
        let client = try await self.client.connect()
        let session = try await client.openSession(ttl: self.ttl.duration, name: "leasehold lock \(self.key)")
        let lock: Lock
        switch try await self.acquire(session: session, signals: signals) {
        case .acquired(let acquired):
            lock = acquired
        case .interrupted(let signal):
            await Self.bounded { try await session.close() }
            return 128 + signal
        }

        var environment = ProcessInfo.processInfo.environment
        environment["LEASEHOLD_KEY"] = self.key
        environment["LEASEHOLD_FENCING_TOKEN"] = String(lock.fencingToken)
        let child: GuardedCommand
        do {
            child = try GuardedCommand.spawn(self.command, environment: environment)
        } catch let failure as GuardedCommand.SpawnFailure {
            await Self.releaseAndClose(lock, session)
            let notFound = failure.errno == ENOENT
            throw CommandFailure(
                "cannot run \(failure.command): \(String(cString: strerror(failure.errno)))",
                status: notFound ? ExitStatus.commandNotFound : ExitStatus.commandNotExecutable
            )
        }

        let forceReleased = ForceReleaseDetector(client: client, lock: lock)
        defer { forceReleased.stop() }
        let policy = LockLossPolicy(ttl: self.ttl.duration)
        switch await self.supervise(
            child,
            session: session,
            policy: policy,
            signals: signals,
            forceReleased: forceReleased
        ) {
        case .exited(let termination):
            await Self.releaseAndClose(lock, session)
            return termination.exitStatus
        case .interrupted(let signal):
            _ = await child.stop(grace: policy.grace)
            await Self.releaseAndClose(lock, session)
            return 128 + signal
        case .lost(let reason):
            StandardError.print(
                "leasehold: lost the lock on \(self.key) (fencing token \(lock.fencingToken)): \(reason); "
                    + "stopping the command"
            )
            _ = await child.stop(grace: policy.grace)
            // Frees the key at once if the server is still there; the lock is not trusted, so no Release. A
            // server that stopped answering gets only a second: the session expires there anyway.
            await Self.bounded(.seconds(1)) { try await session.close() }
            return ExitStatus.lockLost
        }
    }

    private enum Acquisition {
        case acquired(Lock)
        case interrupted(Int32)
    }

    /// Waits for the lock, or for a signal, whichever comes first.
    private func acquire(session: Session, signals: SignalLatch) async throws -> Acquisition {
        let acquiring = PendingResult { [key, wait] in try await session.acquire(key, wait: wait.duration) }
        while true {
            if let result = acquiring.value {
                do {
                    return .acquired(try result.get())
                } catch let error as LeaseholdError where error.code == .deadlineExceeded && error.cause == nil {
                    throw CommandFailure(
                        "timed out after \(self.wait) waiting for \(self.key)",
                        status: ExitStatus.lockUnavailable
                    )
                }
            }
            if let signal = signals.received {
                acquiring.cancel()
                return .interrupted(signal)
            }
            try? await Task.sleep(for: LockLossPolicy.pollInterval)
        }
    }

    private enum Ending {
        case exited(GuardedCommand.Termination)
        case interrupted(Int32)
        case lost(String)
    }

    /// Watches the child, the signals and the lock until one of them ends the run.
    private func supervise(
        _ child: GuardedCommand,
        session: Session,
        policy: LockLossPolicy,
        signals: SignalLatch,
        forceReleased: ForceReleaseDetector
    ) async -> Ending {
        while true {
            if let termination = child.poll() { return .exited(termination) }
            if let signal = signals.received { return .interrupted(signal) }
            if session.state == .expired { return .lost("the server says the session expired") }
            if let event = forceReleased.event {
                let what = event.kind == .forceReleased ? "an admin force-released it" : "the server ended it"
                return .lost("\(what) (\(event.kind.name) at revision \(event.revision))")
            }
            let now = ContinuousClock.now
            if policy.mustStop(now: now, confirmedUntil: session.confirmedUntil) {
                let age = now - (session.confirmedUntil - session.ttl)
                return .lost(
                    "no keepalive has succeeded for \(age.shortText) of the \(session.ttl.shortText) TTL, "
                        + "so the server may soon give the lock to someone else"
                )
            }
            try? await Task.sleep(for: LockLossPolicy.pollInterval)
        }
    }

    // MARK: - Cleanup

    /// Releases the lock and closes the session, each within a few seconds; says so if that failed (the server
    /// then frees the key when the session's TTL runs out).
    private static func releaseAndClose(_ lock: Lock, _ session: Session) async {
        let released = await Self.bounded { try await lock.release() }
        let closed = await Self.bounded { try await session.close() }
        if !released && !closed {
            StandardError.print(
                "leasehold: warning: could not release \(lock.key); the server frees it when the session's "
                    + "\(session.ttl.shortText) TTL runs out"
            )
        }
    }

    /// Runs `body`, giving up after `limit` without waiting for it any longer.
    /// - Returns: Whether `body` finished without error in time.
    @discardableResult
    private static func bounded(
        _ limit: Duration = .seconds(3),
        _ body: @escaping @Sendable () async throws -> Void
    ) async -> Bool {
        let pending = PendingResult(body)
        guard case .success = await pending.value(before: .now + limit) else { return false }
        return true
    }
}

/// The first SIGINT, SIGTERM or SIGHUP received, for the polling loops of ``LockCommand``.
final class SignalLatch: Sendable {
    private let signal = Mutex<Int32?>(nil)

    /// The first trapped signal received, if any.
    var received: Int32? { self.signal.withLock { $0 } }

    /// Traps `signals` from now on: they no longer end the process, they are recorded here.
    func trap(_ signals: UnixSignal...) async {
        let sequence = await UnixSignalsSequence(trapping: signals)
        Task {
            for await signal in sequence {
                self.signal.withLock { $0 = $0 ?? signal.rawValue }
            }
        }
    }
}

/// Watches the locked key for the end of this grant by someone else: a force-release (or an expiry) announced
/// by the server.
final class ForceReleaseDetector: Sendable {
    private let ended = Mutex<Event?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts watching events on `lock`'s key from its grant on.
    init(client: LeaseholdClient, lock: Lock) {
        let key = lock.key
        let token = lock.fencingToken
        let task = Task {
            do {
                for try await event in client.watch(prefix: key, from: token)
                where event.key == key && event.fencingToken == token && event.kind != .acquired {
                    self.ended.withLock { $0 = event }
                    return
                }
            } catch {
                // Only an event tells us anything; the keepalive deadline still guards the lock.
            }
        }
        self.task.withLock { $0 = task }
    }

    /// The event that ended the grant, if one arrived.
    var event: Event? { self.ended.withLock { $0 } }

    /// Stops watching.
    func stop() { self.task.withLock { $0?.cancel() } }
}
