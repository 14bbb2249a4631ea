import Foundation

/// One line of the summary table: a figure of a workload, with its target from issue 6 if it has one.
struct TableRow: Codable {
    var workload: String
    /// The server's store: SQLite's `--sync` mode (`full`, `normal`), or a label such as `PostgreSQL, 2 nodes`.
    var sync: String
    var figure: String
    var value: String
    var p50: String
    var p99: String
    var target: String
    /// `yes`, `no`, or `–` when the figure has no target.
    var met: String

    static let header = ["workload", "store", "figure", "value", "p50", "p99", "target", "met?"]

    var cells: [String] {
        [self.workload, Self.storeLabel(self.sync), self.figure, self.value, self.p50, self.p99, self.target, self.met]
    }

    /// What the table shows for a result's `sync`: a bare `--sync` mode is a SQLite server's (`SQLite full`); any
    /// other label (`PostgreSQL, 2 nodes`) names its store itself.
    static func storeLabel(_ sync: String) -> String {
        sync == "full" || sync == "normal" ? "SQLite \(sync)" : sync
    }
}

/// Everything one run measured, written as JSON to `bench/results/`.
struct Report: Codable {
    var workload: String
    var startedAt: String
    var commandLine: [String]
    var git: GitInfo
    var machine: MachineInfo
    var server: ServerInfo
    /// The run's settings, as given or defaulted.
    var parameters: [String: String]
    /// Counts and rates of the measured window.
    var figures: [String: Double] = [:]
    /// Latencies as measured (closed-loop clients measure service time under load).
    var latencies: [String: LatencySummary] = [:]
    /// The same latencies with HdrHistogram's coordinated-omission correction, where `notes` say what interval.
    var correctedLatencies: [String: LatencySummary] = [:]
    /// Latency-like figures that may be negative, in microseconds.
    var signedLatencies: [String: [String: Double]] = [:]
    var resources: ResourceUsage?
    var rows: [TableRow] = []
    var notes: [String] = []

    init(workload: String, server: ServerInfo, parameters: [String: String]) {
        self.workload = workload
        self.startedAt = ISO8601DateFormatter().string(from: Date())
        self.commandLine = CommandLine.arguments
        self.git = GitInfo.current()
        self.machine = MachineInfo.current()
        self.server = server
        self.parameters = parameters
    }

    init(workload: String, options: CommonOptions, parameters: [String: String]) {
        self.init(
            workload: workload,
            server: ServerInfo.describe(address: options.server, pid: options.serverPID, syncLabel: options.syncMode),
            parameters: parameters
        )
    }

    var sync: String { self.server.sync ?? "?" }

    /// Adds a table row for a rate or count.
    mutating func row(_ figure: String, value: String, target: String = "–", met: Bool? = nil) {
        self.rows.append(
            TableRow(
                workload: self.workload,
                sync: self.sync,
                figure: figure,
                value: value,
                p50: "",
                p99: "",
                target: target,
                met: met.map { $0 ? "yes" : "no" } ?? "–"
            )
        )
    }

    /// Records the server's CPU time per operation (from `--server-pid`) as a figure and a row: the cost that stays
    /// when the load generator and other processes take CPU away.
    mutating func serverCPUPerOperation(_ operation: String, perSecond rate: Double) {
        if let cpu = self.resources?.serverCPUPercentOfOneCore {
            self.cpuPerOperation(of: "server", percentOfOneCore: cpu, operation: operation, perSecond: rate)
        }
        if let cpu = self.resources?.storeCPUPercentOfOneCore {
            self.cpuPerOperation(of: "store", percentOfOneCore: cpu, operation: operation, perSecond: rate)
        }
    }

    /// Records a process's CPU time per operation as the figure `<process>CPUMicrosPer<Operation>` ("round trip" →
    /// `serverCPUMicrosPerRoundTrip`) and the row "<process> CPU per <operation>".
    mutating func cpuPerOperation(
        of process: String,
        percentOfOneCore cpu: Double,
        operation: String,
        perSecond rate: Double
    ) {
        guard rate > 0 else { return }
        let micros = (cpu / 100 * 1e6 / rate).rounded(toPlaces: 1)
        let name = operation.split(separator: " ").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        self.figures["\(process)CPUMicrosPer\(name)"] = micros
        self.row("\(process) CPU per \(operation)", value: "\(micros) µs (\(Format.percent(cpu)) of a core)")
    }

    /// Adds a table row for a latency distribution.
    mutating func row(_ figure: String, latency: LatencySummary, target: String = "–", met: Bool? = nil) {
        self.rows.append(
            TableRow(
                workload: self.workload,
                sync: self.sync,
                figure: figure,
                value: "n=\(latency.count)",
                p50: Format.micros(latency.p50Micros),
                p99: Format.micros(latency.p99Micros),
                target: target,
                met: met.map { $0 ? "yes" : "no" } ?? "–"
            )
        )
    }

    /// Prints the report as JSON to standard output (`--json`) and/or writes it to `--output`.
    func emit(options: CommonOptions) throws { try self.emit(output: options.output) }

    func emit(output options: OutputOptions) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        if let path = options.output {
            let url = URL(fileURLWithPath: path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            try (data + Data("\n".utf8)).write(to: url)
        }
        if options.json {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            print(MarkdownTable.render(self.rows))
            for note in self.notes { print("- \(note)") }
            if let resources { print("- resources: \(Format.resources(resources))") }
        }
    }
}

enum Format {
    /// `1,234,567`.
    static func count(_ value: Double) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.maximumFractionDigits = 0
        formatter.locale = Locale(identifier: "en_US")
        return formatter.string(from: NSNumber(value: value.rounded())) ?? "\(Int(value))"
    }

    /// `850 µs`, `1.23 ms`, `2.5 s`.
    static func micros(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude < 1_000 { return String(format: "%.0f µs", value) }
        if magnitude < 10_000 { return String(format: "%.2f ms", value / 1_000) }
        if magnitude < 1_000_000 { return String(format: "%.1f ms", value / 1_000) }
        return String(format: "%.2f s", value / 1_000_000)
    }

    static func mebibytes(_ bytes: UInt64) -> String { String(format: "%.0f MiB", Double(bytes) / 1_048_576) }

    static func percent(_ value: Double) -> String { String(format: "%.0f%%", value) }

    static func resources(_ usage: ResourceUsage) -> String {
        var parts: [String] = []
        if let server = usage.serverCPUPercentOfOneCore { parts.append("server CPU \(Self.percent(server)) of a core") }
        if let store = usage.storeCPUPercentOfOneCore { parts.append("store (PostgreSQL) CPU \(Self.percent(store))") }
        parts.append("load generator CPU \(Self.percent(usage.loadGeneratorCPUPercentOfOneCore))")
        if let other = usage.otherCPUPercentOfOneCore { parts.append("other CPU \(Self.percent(other))") }
        if let memory = usage.serverMemory { parts.append("server RSS \(Self.mebibytes(memory.rssBytes))") }
        if let load = usage.loadAverageAtStart { parts.append("loadavg at start \(load)") }
        return parts.joined(separator: ", ")
    }
}

enum MarkdownTable {
    static func render(_ rows: [TableRow]) -> String {
        let table = [TableRow.header] + rows.map(\.cells)
        var widths = [Int](repeating: 0, count: TableRow.header.count)
        for line in table {
            for (index, cell) in line.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func render(_ cells: [String]) -> String {
            "| "
                + cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: " | ") + " |"
        }
        var lines = [render(TableRow.header)]
        lines.append("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
        lines += rows.map { render($0.cells) }
        return lines.joined(separator: "\n")
    }
}
