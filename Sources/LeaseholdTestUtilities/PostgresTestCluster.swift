import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A throwaway PostgreSQL cluster for the tests: `initdb` and `pg_ctl` from Debian's `postgresql` package (which
/// `scripts/install-deps.sh` installs), in a temporary folder, listening on a free loopback port, trusting local
/// connections. One cluster serves the whole test process (one database per test); it is stopped by its PID when
/// the process exits, and by a watchdog process if the test process dies without exiting.
///
/// PostgreSQL refuses to run as root, and CI runs as root: the cluster then runs as `nobody`.
///
/// ```swift
/// let cluster = try await PostgresTestCluster.shared()
/// let url = try await cluster.createDatabase()   // postgres://leasehold@127.0.0.1:PORT/t_123_1
/// ```
///
/// There is no skipping: if PostgreSQL cannot be started, `shared()` throws and the test fails.
public final class PostgresTestCluster: Sendable {
    /// The superuser the tests connect as (trust authentication over loopback TCP).
    public static let user = "leasehold"
    public let host = "127.0.0.1"
    public let port: Int
    /// The postmaster's process id.
    public let pid: Int32
    private let binDirectory: String
    private let directory: String
    private let nextDatabase = Mutex(0)

    private static let instance = Mutex<Task<PostgresTestCluster, any Error>?>(nil)

    /// The cluster of this test process, started on first use.
    /// - Throws: ``Failure`` naming what is missing or what PostgreSQL said.
    public static func shared() async throws -> PostgresTestCluster {
        let task = Self.instance.withLock { instance in
            if let instance { return instance }
            let task = Task { try await Self.offThePool { try Self.start() } }
            instance = task
            return task
        }
        return try await task.value
    }

    private init(port: Int, pid: pid_t, binDirectory: String, directory: String) {
        self.port = port
        self.pid = pid
        self.binDirectory = binDirectory
        self.directory = directory
    }

    /// Creates an empty database.
    /// - Returns: Its `postgres://` URL.
    public func createDatabase() async throws -> String {
        try await Self.offThePool { try self.createDatabaseNow() }
    }

    private func createDatabaseNow() throws -> String {
        let number = self.nextDatabase.withLock { value in
            value += 1
            return value
        }
        let name = "t_\(getpid())_\(number)"
        try Self.run(
            self.binDirectory + "/createdb",
            ["-h", self.host, "-p", String(self.port), "-U", Self.user, name],
            asUnprivileged: false
        )
        return self.url(database: name)
    }

    /// The URL of `database` in this cluster.
    public func url(database: String) -> String {
        "postgres://\(Self.user)@\(self.host):\(self.port)/\(database)"
    }

    /// What went wrong starting or using the cluster.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    // MARK: - Start and stop

    /// Runs blocking work (a tool waited for with `waitpid`) on a thread of its own. On Swift concurrency's pool,
    /// which has one thread per core, a few `createdb` calls at once stalled every other test for seconds: their
    /// sessions expired and their connections missed deadlines.
    private static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = "leasehold-test-postgres"
            thread.start()
        }
    }

    private static func start() throws -> PostgresTestCluster {
        let binDirectory = try Self.findBinDirectory()
        var template = Array("/tmp/leasehold-pg-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed: errno \(errno)") }
        let directory = String(cString: created)
        let unprivileged = geteuid() == 0
        if unprivileged {
            // nobody:nogroup on Debian.
            guard chown(directory, 65534, 65534) == 0 else {
                throw Failure(description: "cannot hand \(directory) to nobody: errno \(errno)")
            }
        }
        let data = directory + "/data"
        try Self.run(
            binDirectory + "/initdb",
            [
                "-D", data, "-U", Self.user, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync",
                "--no-instructions",
            ],
            asUnprivileged: unprivileged
        )
        let port = try Self.freePort()
        let options = [
            "-c listen_addresses=127.0.0.1", "-p \(port)", "-k \(directory)", "-c max_connections=300",
            "-c shared_buffers=32MB",
        ].joined(separator: " ")
        try Self.run(
            binDirectory + "/pg_ctl",
            ["-D", data, "-l", directory + "/postgres.log", "-w", "-t", "60", "-o", options, "start"],
            asUnprivileged: unprivileged
        )
        guard let pidText = try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8),
            let pid = pidText.split(separator: "\n").first.flatMap({ pid_t($0) })
        else {
            throw Failure(description: "PostgreSQL started but wrote no postmaster.pid in \(data)")
        }
        Self.watch(postmaster: pid, directory: directory)
        Self.stopAtExit.withLock { $0 = (pid, directory) }
        atexit {
            guard let (pid, directory) = PostgresTestCluster.stopAtExit.withLock({ $0 }) else { return }
            kill(pid, SIGINT)  // fast shutdown
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(20_000) }
            try? FileManager.default.removeItem(atPath: directory)
        }
        return PostgresTestCluster(port: port, pid: pid, binDirectory: binDirectory, directory: directory)
    }

    private static let stopAtExit = Mutex<(pid_t, String)?>(nil)

    /// A shell that stops the postmaster and removes the folder once this test process is gone, however it ended.
    private static func watch(postmaster pid: pid_t, directory: String) {
        let script = """
            while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done
            kill -INT \(pid) 2>/dev/null
            i=0; while kill -0 \(pid) 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
            rm -rf '\(directory)'
            """
        _ = try? Spawn.start(
            "/bin/sh",
            ["-c", script],
            standardOutputPath: "/dev/null",
            standardErrorPath: "/dev/null"
        )
    }

    private static func findBinDirectory() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap { Int($0) }.sorted(by: >)
        for version in versions {
            let bin = "\(root)/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: bin + "/initdb") { return bin }
        }
        throw Failure(
            description:
                "PostgreSQL is not installed (no \(root)/*/bin/initdb): run scripts/install-deps.sh, which installs Debian's postgresql"
        )
    }

    /// A loopback TCP port that was free a moment ago (for a server whose address must be known before it starts).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw Failure(description: "bind failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a PostgreSQL tool to completion; as `nobody` (through `setpriv`) when asked.
    ///
    /// ``Spawn`` rather than Foundation's `Process`: `pg_ctl start` leaves a postmaster behind, which must inherit
    /// nothing, and `Process.waitUntilExit` was seen to wait forever for a `pg_ctl` that had exited.
    private static func run(_ executable: String, _ arguments: [String], asUnprivileged: Bool) throws {
        let argv =
            asUnprivileged
            ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", executable] + arguments
            : [executable] + arguments
        // A file, not a pipe, and nothing else of this test process: the postmaster that pg_ctl starts outlives the
        // tool and would hold any pipe or socket it inherited open for its whole life.
        let outputPath = "/tmp/leasehold-pg-tool-\(getpid())-\(UInt64.random(in: 0 ... .max)).log"
        defer { unlink(outputPath) }
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        let tool = try Spawn.start(
            argv[0],
            Array(argv.dropFirst()),
            environment: environment,
            standardOutputPath: outputPath,
            standardErrorPath: outputPath
        )
        let termination = tool.waitForExit()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard termination == .exited(0) else {
            throw Failure(
                description: "\((executable as NSString).lastPathComponent) failed (\(termination)): \(text)"
            )
        }
    }
}
