import ArgumentParser
import Foundation
import LeaseholdClient
import LeaseholdCore
import LeaseholdWire
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `failover-probe`: a long-lived client that holds a session and a lock through failovers and says, with
/// wall-clock timestamps, when it noticed each one, when its session was resumed on the new active node, and when
/// the same client got its first new grant there. `bench/failover.sh` subtracts the time it killed the active node.
struct FailoverProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover-probe",
        abstract: "Hold a session and a lock through failovers; print when each failover was noticed and resumed.",
        discussion: """
            Connects with the Swift client (LeaseholdClient) to every node of --servers, opens a session (--ttl) \
            and takes KEY-PREFIX/held, then prints one line per event on standard output, each starting with the \
            wall-clock time in milliseconds since the epoch (CLOCK_REALTIME), so that another process can subtract \
            the moment it killed the active node:

              <ms> ready session=<id> token=<t> server=<serverID>
              <ms> jeopardy <n>                 the session's keepalives fail (Session.states: jeopardy)
              <ms> resumed <n> server=<id>      the session was resumed on the new active (jeopardy → safe)
              <ms> grant <n> token=<t>          a try-lock of KEY-PREFIX/grant-<n> through the same client succeeded
              <ms> held <n> token=<t>           KEY-PREFIX/held is still this session's, with the same token
              <ms> error <message>              then the probe exits with status 1

            Every wait is bounded: a failover must be resumed within --timeout of its jeopardy, and the grant and \
            the check must each answer within --timeout. It exits 0 after --failovers resumed failovers.
            """
    )

    @Option(help: "The nodes, HOST:PORT,HOST:PORT (loopback only).")
    var servers: String

    @Option(help: "The session's TTL.")
    var ttl = DurationArgument(.seconds(10), text: "10s")

    @Option(help: "Exit 0 after this many resumed failovers.")
    var failovers = 10

    @Option(help: "The longest a failover may take from jeopardy to resumed, and a grant or check after it.")
    var timeout = DurationArgument(.seconds(20), text: "20s")

    @Option(help: "The longest the probe waits for the next failover before giving up.")
    var idleTimeout = DurationArgument(.seconds(300), text: "300s")

    @Option(help: "The keys the probe takes start with this.")
    var keyPrefix = "bench/failover-probe"

    func validate() throws {
        guard self.failovers > 0 else { throw ValidationError("--failovers must be positive") }
        let endpoints = try self.endpoints()
        for endpoint in endpoints where !CommonOptions.isLoopback(endpoint.host) {
            throw ValidationError("--servers must be loopback addresses, not \(endpoint.host)")
        }
    }

    func endpoints() throws -> [LeaseholdClient.Endpoint] {
        do {
            return try LeaseholdClient.Endpoint.list(parsing: self.servers)
        } catch let error as LeaseholdError {
            throw ValidationError("--servers: \(error.message)")
        }
    }

    func run() async throws {
        // Whatever happens, the probe ends: every failover adds at most the idle wait and two timeouts.
        Watchdog.arm(
            after: (self.idleTimeout.duration + self.timeout.duration * 3) * self.failovers + .seconds(60),
            what: "failover-probe"
        )
        do {
            try await self.probe()
        } catch {
            ProbeOutput.line("error \(error)")
            throw ExitCode(1)
        }
    }

    private func probe() async throws {
        let settings = Settings(
            failovers: self.failovers,
            timeout: self.timeout,
            idleTimeout: self.idleTimeout,
            keyPrefix: self.keyPrefix
        )
        let limit = settings.timeout.duration
        let servers = self.servers
        let ttl = self.ttl.duration
        var configuration = LeaseholdClient.Configuration(endpoints: try self.endpoints())
        configuration.clientName = "leasehold-bench/failover-probe"
        let client = try await withTimeout(limit, "connecting to \(servers)") { [configuration] in
            try await LeaseholdClient.connect(configuration)
        }
        let session = try await withTimeout(limit, "opening a session") {
            try await client.openSession(ttl: ttl, name: "failover-probe")
        }
        let heldKey = "\(settings.keyPrefix)/held"
        let held = try await withTimeout(limit, "taking \(heldKey)") {
            try await session.acquire(heldKey, wait: limit)
        }
        let progress = ProgressBox()
        // Subscribe before announcing readiness, so that no state change after "ready" can be missed.
        let states = session.states
        ProbeOutput.line(
            "ready session=\(session.id) token=\(held.fencingToken) server=\(client.hello?.serverID ?? "?")"
        )

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var resumed = 0
                for await state in states {
                    let now = ContinuousClock.now
                    switch state {
                    case .connected:
                        continue
                    case .jeopardy:
                        progress.state.withLock { $0.jeopardySince = now }
                        ProbeOutput.line("jeopardy \(resumed + 1)")
                    case .safe:
                        resumed += 1
                        progress.state.withLock { $0 = Progress(lastEvent: now) }
                        ProbeOutput.line("resumed \(resumed) server=\(client.hello?.serverID ?? "?")")
                        try await Self.afterResume(resumed, settings, session: session, client: client, held: held)
                        progress.state.withLock { $0.lastEvent = .now }
                        if resumed == settings.failovers { return }
                    case .expired:
                        throw ProbeError("the session expired (failover \(resumed + 1))")
                    }
                }
                throw ProbeError("the session's state stream ended (closed?) after \(resumed) failovers")
            }
            group.addTask {
                // The bounds of the waits that Session.states cannot bound: resumed within the timeout of its
                // jeopardy, and some failover within the idle timeout of the last event.
                while true {
                    try await Task.sleep(for: .milliseconds(100))
                    let now = ContinuousClock.now
                    let (jeopardySince, lastEvent) = progress.state.withLock { ($0.jeopardySince, $0.lastEvent) }
                    if let jeopardySince, now - jeopardySince > limit {
                        throw ProbeError(
                            "the failover took more than \(settings.timeout): not resumed \(settings.timeout) after "
                                + "the jeopardy"
                        )
                    }
                    if jeopardySince == nil, now - lastEvent > settings.idleTimeout.duration {
                        throw ProbeError("no failover within \(settings.idleTimeout) of the last one")
                    }
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
        _ = try? await withTimeout(limit, "releasing \(heldKey)") { try await held.release() }
        _ = try? await withTimeout(limit, "closing the session") { try await session.close() }
        await client.close()
    }

    /// The first new grant through the same client, and the held lock's check, after resume `number`.
    private static func afterResume(
        _ number: Int,
        _ settings: Settings,
        session: Session,
        client: LeaseholdClient,
        held: Lock
    ) async throws {
        let limit = settings.timeout.duration
        let key = "\(settings.keyPrefix)/grant-\(number)"
        let lock = try await withTimeout(limit, "the try-lock of \(key) after failover \(number)") {
            try await session.acquire(key, wait: .zero)
        }
        ProbeOutput.line("grant \(number) token=\(lock.fencingToken)")
        guard lock.fencingToken > held.fencingToken else {
            throw ProbeError("\(key) got token \(lock.fencingToken), not above the held \(held.fencingToken)")
        }
        _ = try await withTimeout(limit, "releasing \(key)") { try await lock.release() }
        let described = try await withTimeout(limit, "describing \(held.key)") { try await client.describe(held.key) }
        guard let info = described.lock, info.sessionID == session.id, info.fencingToken == held.fencingToken else {
            let holder = described.lock.map { "session \($0.sessionID) token \($0.fencingToken)" } ?? "nobody"
            throw ProbeError(
                "after failover \(number) \(held.key) is held by \(holder), not session \(session.id) token "
                    + "\(held.fencingToken)"
            )
        }
        ProbeOutput.line("held \(number) token=\(info.fencingToken)")
    }

    /// The options the probe's tasks need.
    private struct Settings: Sendable {
        var failovers: Int
        var timeout: DurationArgument
        var idleTimeout: DurationArgument
        var keyPrefix: String
    }

    private struct Progress {
        /// When the session reported jeopardy, until it is resumed.
        var jeopardySince: ContinuousClock.Instant?
        /// When the probe last saw a failover end (or started).
        var lastEvent = ContinuousClock.now
    }

    private final class ProgressBox: Sendable {
        let state = Mutex(Progress())
    }
}

struct ProbeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, or fails with a ``ProbeError`` naming `what` once `limit` has passed.
func withTimeout<T: Sendable>(
    _ limit: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw ProbeError("\(what) took more than \(limit)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// The probe's event lines: wall-clock milliseconds first, written unbuffered so that a script reading the file
/// sees each line as soon as it happens.
enum ProbeOutput {
    static func line(_ text: String) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let millis = Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        FileHandle.standardOutput.write(Data("\(millis) \(text)\n".utf8))
    }
}
