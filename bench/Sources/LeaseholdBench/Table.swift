import ArgumentParser
import Foundation

/// `table`: one markdown table from several result files, as `run.sh` prints it.
struct Table: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one markdown table of the rows of JSON result files, in the order given.")

    @Argument(help: "Result files written with --output.")
    var files: [String]

    func run() throws {
        let decoder = JSONDecoder()
        var rows: [TableRow] = []
        var fsync: Report?
        var notes: [String] = []
        for file in self.files {
            let report = try decoder.decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
            rows += report.rows
            if report.workload.hasPrefix("fsync probe") { fsync = report }
            if let resources = report.resources {
                notes.append("\(report.workload) [\(report.sync)]: \(Format.resources(resources))")
            }
        }
        print(MarkdownTable.render(rows))
        if let fsync, let p50 = fsync.figures["p50Micros"], let p99 = fsync.figures["p99Micros"] {
            print("")
            print(
                "fsync bound for `contended --keys 1` under --sync full: fdatasync p50 \(Format.micros(p50)), p99 "
                    + "\(Format.micros(p99)) (\(fsync.notes.first ?? "")). A hand-off is one commit, so it cannot take "
                    + "less than ~\(Format.micros(p50)), and one key cannot see more than ~"
                    + "\(Format.count(p50 > 0 ? 1e6 / p50 : 0)) grants/s.")
        }
        if !notes.isEmpty {
            print("")
            print("CPU during each measured window (percent of one core; the machine has \(MachineInfo.current().cores) cores):")
            for note in notes { print("- \(note)") }
        }
    }
}
