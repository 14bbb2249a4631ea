import ArgumentParser
import Foundation

/// `table`: one markdown table from several result files, as `run.sh` prints it.
struct Table: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one markdown table of the rows of JSON result files, in the order given."
    )

    @Argument(help: "Result files written with --output.")
    var files: [String]

    func run() throws {
        let decoder = JSONDecoder()
        var rows: [TableRow] = []
        var fsyncs: [Report] = []
        var loopbacks: [Report] = []
        var clients: Int?
        var notes: [String] = []
        for file in self.files {
            let report = try decoder.decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
            rows += report.rows
            if report.workload.hasPrefix("fsync probe") { fsyncs.append(report) }
            if report.workload.hasPrefix("loopback floor") { loopbacks.append(report) }
            if report.workload.hasPrefix("uncontended"), clients == nil {
                clients = report.parameters["clients"].flatMap { Int($0) }
            }
            if let resources = report.resources {
                notes.append("\(report.workload) [\(TableRow.storeLabel(report.sync))]: \(Format.resources(resources))")
            }
        }
        print(MarkdownTable.render(rows))
        for fsync in fsyncs {
            guard let p50 = fsync.figures["p50Micros"], let p99 = fsync.figures["p99Micros"], p50 > 0 else { continue }
            print("")
            print(
                "fsync bound (\(fsync.parameters["when"] ?? "probe"), \(fsync.notes.first ?? "")): fdatasync p50 "
                    + "\(Format.micros(p50)), p99 \(Format.micros(p99)). Under --sync full a hand-off "
                    + "(`contended --keys 1`) is one commit, so it cannot take less than ~\(Format.micros(p50)) and one "
                    + "key cannot see more than ~\(Format.count(1e6 / p50)) grants/s."
            )
            if let clients {
                print(
                    "In `uncontended` each of the \(clients) closed-loop clients waits for two commits per pair, so "
                        + "--sync full cannot exceed ~\(Format.count(Double(clients) * 1e6 / (2 * p50))) pairs/s "
                        + "however commits are grouped."
                )
            }
        }
        for loopback in loopbacks {
            guard let rate = loopback.figures["roundTripsPerSecond"], rate > 0 else { continue }
            let connections = loopback.parameters["connections"] ?? "?"
            let cpu = [
                loopback.figures["serverCPUMicrosPerRoundTrip"], loopback.figures["driverCPUMicrosPerRoundTrip"],
            ]
            .compactMap { $0 }.map { "\($0) µs" }.joined(separator: " + ")
            print("")
            if loopback.parameters["serverKind"] == LoopbackProbe.ServerKind.nio.rawValue {
                print(
                    "SwiftNIO bound: \(Format.count(rate)) round trips/s over \(connections) connections when an empty "
                        + "SwiftNIO handler on one event loop answers a raw driver (CPU per round trip: \(cpu), server + "
                        + "driver). A server on SwiftNIO cannot answer faster, before any work of its own."
                )
            } else {
                print(
                    "Loopback bound: \(Format.count(rate)) round trips/s over \(connections) connections with no RPC "
                        + "layer (CPU per round trip: \(cpu), raw echo server + driver). `ping` over as many connections "
                        + "cannot exceed it, nor `uncontended` ~\(Format.count(rate / 2)) pairs/s (two round trips each), "
                        + "before any work of the RPC layer, the lock table or the disk."
                )
            }
        }
        if !notes.isEmpty {
            print("")
            print(
                "CPU during each measured window (percent of one core; the machine has \(MachineInfo.current().cores) cores):"
            )
            for note in notes { print("- \(note)") }
        }
    }
}
