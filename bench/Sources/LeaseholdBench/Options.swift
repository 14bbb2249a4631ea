import ArgumentParser
import Foundation
import LeaseholdRPC
import LeaseholdWire
import NIOCore
import NIOPosix
import Synchronization

/// A duration on the command line: `10s`, `500ms`, `2m`, `1.5s`, or a bare number of seconds.
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var duration: Duration
    var description: String

    init(_ duration: Duration, text: String) {
        self.duration = duration
        self.description = text
    }

    init?(argument: String) {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("us", 0.000_001), ("s", 1), ("m", 60)]
        var number = argument
        var scale = 1.0
        for unit in units where argument.hasSuffix(unit.suffix) {
            number = String(argument.dropLast(unit.suffix.count))
            scale = unit.seconds
            break
        }
        guard let value = Double(number), value >= 0, value.isFinite else { return nil }
        self.duration = .nanoseconds(Int64((value * scale * 1e9).rounded()))
        self.description = argument
    }
}

/// Where a result goes.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the result as JSON on standard output instead of a table.")
    var json = false

    @Option(help: "Also write the JSON result to this file (e.g. bench/results/2026-01-01-ping-full.json).")
    var output: String?
}

/// How long a run warms up and then measures.
struct WindowOptions: ParsableArguments {
    @Option(help: "How long to measure, after the warm-up (e.g. 10s).")
    var duration = DurationArgument(.seconds(10), text: "10s")

    @Option(help: "How long to run before measuring (e.g. 2s).")
    var warmup = DurationArgument(.seconds(2), text: "2s")
}

/// Options every workload takes.
struct CommonOptions: ParsableArguments {
    @Option(help: "The server, HOST:PORT (loopback only).")
    var server = "127.0.0.1:7420"

    @Option(
        help: ArgumentHelp(
            "Connect with TLS, verifying the server with this CA (PEM): to measure what TLS costs.",
            valueName: "file"
        )
    )
    var tlsCA: String?

    @Option(help: "Concurrent clients; each has its own session.")
    var clients = 64

    @Option(
        help: ArgumentHelp(
            "TCP connections the clients share (each client's calls go over one of them).",
            discussion: """
                Default: one per client for uncontended, contended and ping, as 64 worker processes with one \
                client each would have (and as redis-benchmark -c 64 has); 8 for sessions, expiry and watch, \
                which model a few processes holding many sessions or watches.
                """
        )
    )
    var connections: Int?

    @Option(
        name: .customLong("event-loops"),
        help: ArgumentHelp(
            "Event-loop threads that run this generator's connections.",
            discussion: """
                Default: one per core (SwiftNIO's shared group). The generator shares the machine's cores with the \
                server: with one loop it takes at most one core and its thread rarely sleeps, as redis-benchmark's \
                single thread does.
                """
        )
    )
    var eventLoops: Int?

    @OptionGroup var window: WindowOptions

    /// How long to measure, after the warm-up.
    var duration: DurationArgument { self.window.duration }
    /// How long to run before measuring.
    var warmup: DurationArgument { self.window.warmup }

    @OptionGroup var output: OutputOptions

    @Option(name: .customLong("server-pid"), help: "The server's process id: its CPU and memory are read from /proc.")
    var serverPID: Int32?

    @Option(
        name: .customLong("store-pid"),
        help: "The process id of the store's server (PostgreSQL's postmaster): its and its children's CPU is read."
    )
    var storePID: Int32?

    @Option(help: "The server's --sync mode, for the record (read from the server's command line if omitted).")
    var syncMode: String?

    func validate() throws {
        guard self.clients > 0 else { throw ValidationError("--clients must be positive") }
        if let connections, connections <= 0 { throw ValidationError("--connections must be positive") }
        if let eventLoops, eventLoops <= 0 { throw ValidationError("--event-loops must be positive") }
        let (host, _) = try self.endpoint()
        guard Self.isLoopback(host) else {
            throw ValidationError("--server must be a loopback address (127.0.0.0/8, localhost or ::1), not \(host)")
        }
    }

    /// The server's host and port.
    func endpoint() throws -> (host: String, port: Int) {
        guard let colon = self.server.lastIndex(of: ":"),
            let port = Int(self.server[self.server.index(after: colon)...]),
            (1...65_535).contains(port)
        else { throw ValidationError("--server must be HOST:PORT, not \(self.server)") }
        var host = String(self.server[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The number of connections for a workload whose default is `defaultCount`, never more than `limit`.
    func connectionCount(default defaultCount: Int, limit: Int) -> Int {
        max(1, min(self.connections ?? defaultCount, limit))
    }

    /// Opens `count` connections, each with its own `Hello`.
    func connect(count: Int, name: String) async throws -> [RPCConnection] {
        let (host, port) = try self.endpoint()
        var connections: [RPCConnection] = []
        for index in 0..<count {
            connections.append(
                try await RPCConnection.connect(
                    host: host,
                    port: port,
                    hello: HelloRequest(clientName: "leasehold-bench/\(name)/\(index)"),
                    tls: self.tlsCA.map { ClientTLSConfiguration(caPath: $0) },
                    group: GeneratorLoops.group(threads: self.eventLoops)
                )
            )
        }
        return connections
    }

    /// Settings every report records.
    var parameters: [String: String] {
        [
            "server": self.server, "clients": "\(self.clients)", "duration": self.duration.description,
            "warmup": self.warmup.description, "tls": self.tlsCA == nil ? "off" : "on",
            "generatorEventLoops": self.eventLoops.map { "\($0)" } ?? "\(System.coreCount) (default: one per core)",
        ]
    }

    /// How a workload's label names its connections: "8 conns", with the generator's loops when `--event-loops` is
    /// given ("64 conns, 1 generator loop"), so that table rows say how the load was made.
    func connectionsLabel(_ count: Int) -> String {
        "\(count) conns" + (self.tlsCA == nil ? "" : " over TLS")
            + (self.eventLoops.map { ", \($0) generator loop\($0 == 1 ? "" : "s")" } ?? "")
    }
}

/// The event loops of the generator's connections: SwiftNIO's shared group by default, or one group of the size
/// `--event-loops` asks for, made at the first connection and kept for the life of the process.
enum GeneratorLoops {
    private static let sized = Mutex<MultiThreadedEventLoopGroup?>(nil)

    static func group(threads: Int?) -> any EventLoopGroup {
        guard let threads else { return MultiThreadedEventLoopGroup.singleton }
        return self.sized.withLock { group in
            if let group { return group }
            let made = MultiThreadedEventLoopGroup(numberOfThreads: threads)
            group = made
            return made
        }
    }
}

/// Ends the process if a run goes on far past its planned length: every run is bounded in time, even against a
/// server that stops answering.
enum Watchdog {
    static func arm(after limit: Duration, what: String) {
        Task.detached {
            try? await Task.sleep(for: limit)
            FileHandle.standardError.write(
                Data("leasehold-bench: \(what) still running after \(limit); giving up\n".utf8)
            )
            exit(3)
        }
    }
}

/// A progress line on standard error, which `--json` leaves clean.
func log(_ message: String) {
    FileHandle.standardError.write(Data("leasehold-bench: \(message)\n".utf8))
}
