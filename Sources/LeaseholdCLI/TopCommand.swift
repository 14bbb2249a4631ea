import ArgumentParser
import Dispatch
import Foundation
import LeaseholdClient
import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `leasehold top [PREFIX]`: a live view of the locks that matter right now.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Show the most contended keys, the longest holds and the latest expiries, live.",
        discussion: """
            Follows the server's watch stream (grants, releases, expiries and force-releases per second, and \
            the latest expiries and force-releases) and, every --interval, lists the held locks and describes \
            their queues: the keys with the most waiters and the oldest waits, the locks held longest with their \
            holders and owners. With --metrics-address (the address the server's --metrics-listen serves), it \
            also shows the sessions closest to expiry, with their owners, names, time left and locks.

            On a terminal the view redraws in place; q or Ctrl-C quits and restores the terminal. When stdout is \
            not a terminal, each refresh prints the view as plain lines followed by a blank line (--iterations N \
            stops after N refreshes).

            Examples:
              $ leasehold top
              $ leasehold top jobs/ --interval 2s
              $ leasehold top --metrics-address 127.0.0.1:9420
              $ leasehold top --iterations 1 > snapshot.txt
            """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "Only keys that start with this; all keys when omitted.")
    var prefix = ""

    @Option(help: ArgumentHelp("How often to refresh.", valueName: "duration"))
    var interval = DurationArgument(.seconds(1), text: "1s")

    @Option(help: "Stop after this many refreshes (default: run until q or Ctrl-C).")
    var iterations: Int?

    @Option(help: "Describe at most this many held keys per refresh to find their queues.")
    var maxKeys = 200

    @Option(
        help: ArgumentHelp(
            "The server's metrics endpoint (serve --metrics-listen), to show the sessions closest to expiry.",
            valueName: "host:port"
        )
    )
    var metricsAddress: String?

    /// The parsed ``metricsAddress``.
    private var metricsEndpoint: HostAndPort? {
        get throws { try self.metricsAddress.map { try HostAndPort(parsing: $0) } }
    }

    func validate() throws {
        guard self.interval.duration >= .milliseconds(100) else {
            throw ValidationError("--interval must be at least 100ms")
        }
        if let iterations = self.iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        guard self.maxKeys >= 1 else { throw ValidationError("--max-keys must be at least 1") }
        do {
            _ = try self.metricsEndpoint
        } catch {
            throw ValidationError("--metrics-address: \(error)")
        }
    }

    func run() async throws {
        try await CommandFailure.reporting(server: self.client.address) {
            let client = try await self.client.connect()
            var initial = TopState(server: self.client.address, prefix: self.prefix)
            if let address = self.metricsAddress { initial.expiringSource = .metrics(address) }
            let state = SharedTopState(initial)
            let watch = Task {
                do {
                    for try await event in client.watch(prefix: self.prefix) { state.withLock { $0.apply(event) } }
                } catch {
                    state.withLock { $0.problem = "watch ended: \(error)" }
                }
            }
            let terminal = isatty(STDOUT_FILENO) == 1 ? Terminal.enter() : nil
            defer {
                terminal?.leave()
                watch.cancel()
            }
            var last = ContinuousClock.now
            var refreshes = 0
            while !Task.isCancelled, !(terminal?.quitRequested ?? false) {
                await self.refresh(client, state)
                let now = ContinuousClock.now
                let snapshot = state.withLock { state -> TopState in
                    state.tick(elapsed: now - last)
                    return state
                }
                last = now
                let wall = WallTime(millisecondsSince1970: UInt64(Date().timeIntervalSince1970 * 1_000))
                if let terminal {
                    let (width, height) = Terminal.size()
                    terminal.draw(TopScreen.render(snapshot, now: wall, width: width, height: height))
                } else {
                    for line in TopScreen.render(snapshot, now: wall, width: 200, height: nil) { Output.print(line) }
                    Output.print("")
                }
                refreshes += 1
                if let iterations = self.iterations, refreshes >= iterations { break }
                // Sleep in small steps so that q quits at once.
                let until = ContinuousClock.now + self.interval.duration
                while ContinuousClock.now < until, !(terminal?.quitRequested ?? false) {
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            await client.close()
        }
    }

    /// Lists the held locks and describes their queues, then reads the sessions closest to expiry from the metrics
    /// endpoint if given; a failure is shown, not thrown, and the next refresh tries again.
    private func refresh(_ client: LeaseholdClient, _ state: SharedTopState) async {
        do {
            let listed = try await client.list(prefix: self.prefix)
            var queues: [String: TopState.Queue] = [:]
            for lock in listed.locks.prefix(self.maxKeys) {
                let described = try await client.describe(lock.key)
                queues[lock.key] = TopState.Queue(
                    waiters: Int(described.waiters),
                    oldest: described.queue.map(\.waitingSince).min(),
                    nextOwner: described.queue.first?.owner
                )
            }
            state.withLock {
                $0.locks = listed.locks
                $0.queues = queues
                $0.revision = max($0.revision, listed.revision)
                $0.problem = nil
            }
        } catch {
            state.withLock { $0.problem = "refresh failed: \(error)" }
            return
        }
        guard let endpoint = try? self.metricsEndpoint else { return }
        do {
            let expiring = try await SessionsFetch.fetch(
                from: endpoint,
                limit: TopScreen.expiringRows,
                timeout: .seconds(2)
            )
            state.withLock { $0.expiring = expiring }
        } catch {
            state.withLock {
                $0.expiring = []
                $0.problem = "\(error)"
            }
        }
    }
}

/// The state the watch task and the refresh loop share.
final class SharedTopState: Sendable {
    private let state: Mutex<TopState>

    init(_ state: TopState) { self.state = Mutex(state) }

    func withLock<R>(_ body: (inout TopState) -> R) -> R { self.state.withLock { body(&$0) } }
}

/// The terminal while `top` runs: the alternate screen, no cursor, keys read one at a time without echo. Leaving
/// (on `q`, on Ctrl-C, on any way out) puts everything back.
final class Terminal: @unchecked Sendable {  // `saved` is set once; `quit` is atomic.
    private let saved: termios
    private let interrupt: any DispatchSourceSignal
    private let quit = Atomic<Bool>(false)

    private init(saved: termios, interrupt: any DispatchSourceSignal) {
        self.saved = saved
        self.interrupt = interrupt
    }

    /// Whether `q` or Ctrl-C was pressed.
    var quitRequested: Bool { self.quit.load(ordering: .relaxed) }

    /// Switches the terminal to the view's mode and starts listening for `q` and Ctrl-C.
    static func enter() -> Terminal {
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        signal(SIGINT, SIG_IGN)
        let terminal = Terminal(
            saved: original,
            interrupt: DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        )
        terminal.interrupt.setEventHandler { terminal.quit.store(true, ordering: .relaxed) }
        terminal.interrupt.resume()
        var raw = original
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        _ = Output.writeAll("\u{1B}[?1049h\u{1B}[?25l", to: STDOUT_FILENO)
        let reader = Thread {
            var byte: UInt8 = 0
            while read(STDIN_FILENO, &byte, 1) == 1 {
                if byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q") || byte == 3 {
                    terminal.quit.store(true, ordering: .relaxed)
                    return
                }
            }
        }
        reader.start()
        return terminal
    }

    /// Redraws the whole screen with `lines`.
    func draw(_ lines: [String]) {
        _ = Output.writeAll("\u{1B}[H\u{1B}[2J" + lines.joined(separator: "\r\n"), to: STDOUT_FILENO)
    }

    /// Restores the terminal as it was.
    func leave() {
        _ = Output.writeAll("\u{1B}[?25h\u{1B}[?1049l", to: STDOUT_FILENO)
        var saved = self.saved
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
        self.interrupt.cancel()
        signal(SIGINT, SIG_DFL)
    }

    /// The terminal's columns and rows (80×24 if unknown).
    static func size() -> (width: Int, height: Int) {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 else {
            return (80, 24)
        }
        return (Int(size.ws_col), Int(size.ws_row))
    }
}
