import Foundation
import LeaseholdRPC
public import LeaseholdTestUtilities

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A built server, `leasehold serve` or `fenced-resource serve`, run as a ``ChildProcess`` and waited for until its
/// log says where it listens: port 0 lets the kernel pick a free port, which ``port`` then holds.
///
/// Its stdout and stderr go to one log file, and a server that exits or does not listen in time is SIGKILLed and
/// reported with the end of its log.
///
/// ```swift
/// let server = try await ServerProcess.start(.leasehold, data: directory.file("l.db"), log: directory.file("0.log"))
/// defer { server.killIfRunning() }
/// let client = try await LeaseholdClient.connect(.init(host: server.host, port: server.port))
/// server.process.send(SIGKILL)
/// try await server.process.waitForExit(timeout: .seconds(30))
/// ```
public final class ServerProcess: Sendable {
    /// Which server to run: its executable, and how its log says where it listens.
    public struct Kind: Sendable {
        /// The product, such as `leasehold`.
        public let executable: String
        /// The port in the line where the server says it listens, or nil for any other line.
        let listeningPort: @Sendable (Substring) -> Int?

        /// `leasehold serve`, whose log says `… address=[IPv4]127.0.0.1/127.0.0.1:40123 [LeaseholdRPC] listening`.
        public static let leasehold = Kind(executable: "leasehold") { line in
            line.hasSuffix(" listening") ? ServerProcess.port(after: "address=", in: line) : nil
        }

        /// `leasehold serve --log-format json`, whose log says
        /// `{…,"message":"listening","address":"[IPv4]127.0.0.1/127.0.0.1:40123",…}`.
        public static let leaseholdJSONLogs = Kind(executable: "leasehold") { line in
            line.contains(#""message":"listening""#) ? ServerProcess.jsonPort(in: line) : nil
        }

        /// `fenced-resource serve`, whose log says `… fenced-resource listening on 127.0.0.1:40123`.
        public static let fencedResource = Kind(executable: "fenced-resource") { line in
            ServerProcess.port(after: " listening on ", in: line)
        }
    }

    /// The child process.
    public let process: ChildProcess
    /// The host it listens on, as given to `--listen`.
    public let host: String
    /// The port it listens on.
    public let port: Int

    /// `HOST:PORT`, for `--server` or `--lock-server`.
    public var address: String { HostAndPort(host: self.host, port: self.port).description }

    /// The file that receives the server's stdout and stderr.
    public var logPath: String { self.process.standardErrorPath }

    /// The last lines of the server's log, for failure messages.
    public var logTail: String { self.process.tail() }

    private init(process: ChildProcess, host: String, port: Int) {
        self.process = process
        self.host = host
        self.port = port
    }

    /// Starts `EXECUTABLE serve --listen listen --data dataPath arguments…` and waits until it listens.
    /// - Parameters:
    ///   - kind: The server: ``Kind/leasehold`` or ``Kind/fencedResource``.
    ///   - dataPath: Its SQLite file.
    ///   - listen: The address to listen on; port 0 lets the kernel pick one (see ``port``).
    ///   - logPath: Where the server's stdout and stderr go (created, or emptied).
    ///   - arguments: More `serve` options, such as `["--sync", "full"]`.
    ///   - timeout: How long the server may take to start listening.
    /// - Returns: The running server.
    /// - Throws: ``ChildProcess/Failure`` when the executable is missing, or the server exits early or does not
    ///   listen in time, with the end of its log.
    public static func start(
        _ kind: Kind,
        data dataPath: String,
        listen: String = "127.0.0.1:0",
        log logPath: String,
        arguments: [String] = [],
        timeout: Duration = .seconds(20)
    ) async throws -> ServerProcess {
        let address = try HostAndPort(parsing: listen, allowingPortZero: true)
        let process = try ChildProcess(
            executable: BuiltExecutable.path(named: kind.executable),
            arguments: ["serve", "--listen", listen, "--data", dataPath] + arguments,
            standardOutputPath: logPath,
            standardErrorPath: logPath
        )
        do {
            let port = try await process.firstLine(within: timeout, saying: "listening", kind.listeningPort)
            return ServerProcess(process: process, host: address.host, port: port)
        } catch {
            process.killIfRunning()
            throw error
        }
    }

    /// Starts a server on 127.0.0.1 and a port the kernel picks, with its database (`EXECUTABLE.db`) and its log
    /// in `directory`, and waits (at most 20 s) until it listens.
    /// - Parameters:
    ///   - kind: The server: ``Kind/leasehold`` or ``Kind/fencedResource``.
    ///   - directory: Holds the database and the log.
    ///   - arguments: More `serve` options, such as `["--auth-file", path]`.
    /// - Returns: The running server.
    /// - Throws: As ``start(_:data:listen:log:arguments:timeout:)``.
    public static func start(
        _ kind: Kind,
        in directory: TemporaryDirectory,
        arguments: [String] = []
    ) async throws -> ServerProcess {
        try await Self.start(
            kind,
            data: directory.file("\(kind.executable).db"),
            log: directory.file("\(kind.executable)-serve-\(UUID().uuidString.prefix(6)).log"),
            arguments: arguments
        )
    }

    /// Stops the server the way an operator would: SIGCONT (should it be stopped), then SIGTERM, and waits.
    /// - Parameter timeout: How long the graceful stop may take.
    /// - Returns: How the server ended; a clean stop is `.exited(0)`.
    /// - Throws: ``ChildProcess/Failure`` when it still runs after `timeout`.
    @discardableResult
    public func stop(timeout: Duration = .seconds(10)) async throws -> ChildProcess.Termination {
        self.process.send(SIGCONT)
        self.process.send(SIGTERM)
        return try await self.process.waitForExit(timeout: timeout)
    }

    /// SIGKILLs the server unless it has ended, and waits (at most 5 s) until it has: for `defer`.
    public func killIfRunning() { self.process.killIfRunning() }

    // MARK: - Internal

    /// The port of the address that follows `marker` in `line`, up to the next space: its digits after the last `:`.
    /// The port of the `address` field of a JSON log line.
    static func jsonPort(in line: Substring) -> Int? {
        guard let start = line.range(of: #""address":""#) else { return nil }
        let address = line[start.upperBound...].prefix { $0 != "\"" }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        return Int(address[address.index(after: colon)...])
    }

    private static func port(after marker: String, in line: Substring) -> Int? {
        guard let start = line.range(of: marker) else { return nil }
        let address = line[start.upperBound...].prefix { !$0.isWhitespace }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        let digits = address[address.index(after: colon)...]
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }
}
