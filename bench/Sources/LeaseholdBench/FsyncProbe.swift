import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `fsync`: the disk's sync latency, the floor of every durable commit under `--sync full`.
struct FsyncProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsync",
        abstract: "Measure fsync latency on a folder's filesystem (the data file's), the bound of a hand-off.",
        discussion: """
            Appends --size bytes to a new temporary file in --dir and calls fdatasync, --count times, as SQLite \
            does for each commit in WAL mode with synchronous=FULL (on Linux it uses fdatasync), then removes the \
            file. Under --sync full a hand-off (a release plus the next holder's grant) is one commit, so one key \
            cannot see more grants per second than 1 / this latency.
            """
    )

    @Option(help: "A folder on the filesystem to measure (use the data file's).")
    var dir = FileManager.default.temporaryDirectory.path

    @Option(help: "How many write + fdatasync rounds.")
    var count = 200

    @Option(help: "Bytes written before each sync.")
    var size = 4_096

    @Option(help: "A label for the record, such as before or after.")
    var label = "probe"

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...100_000).contains(self.count) else { throw ValidationError("--count must be 1...100000") }
        guard (1...(1 << 24)).contains(self.size) else { throw ValidationError("--size must be 1...16777216") }
    }

    func run() async throws {
        let path = URL(fileURLWithPath: self.dir).appendingPathComponent("leasehold-fsync-probe-\(getpid()).tmp").path
        let descriptor = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw ProbeFailed(message: "cannot create \(path): errno \(errno)") }
        defer {
            close(descriptor)
            unlink(path)
        }
        let block = [UInt8](repeating: 0x5A, count: self.size)
        var latency = makeLatencyHistogram()
        for _ in 0..<self.count {
            let written = block.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written == self.size else { throw ProbeFailed(message: "write failed: errno \(errno)") }
            let start = monotonicNanos()
            guard fdatasync(descriptor) == 0 else { throw ProbeFailed(message: "fdatasync failed: errno \(errno)") }
            latency.recordClamped(monotonicNanos() - start)
        }

        var report = Report(
            workload: "fsync probe, \(self.label) (\(self.size) B append + fdatasync)",
            server: ServerInfo(address: "-", pid: nil, commandLine: nil, sync: "–"),
            parameters: ["dir": self.dir, "count": "\(self.count)", "size": "\(self.size)", "when": self.label]
        )
        let summary = LatencySummary(latency)
        report.latencies = ["fdatasync": summary]
        report.figures = [
            "p50Micros": summary.p50Micros, "p99Micros": summary.p99Micros,
            "maxGrantsPerSecondOnOneKey": summary.p50Micros > 0 ? (1e6 / summary.p50Micros).rounded() : 0,
        ]
        report.notes.append("filesystem of \(self.dir)")
        report.row("fdatasync latency", latency: summary)
        try report.emit(output: self.output)
    }
}

struct ProbeFailed: Error, CustomStringConvertible {
    var message: String
    var description: String { self.message }
}
