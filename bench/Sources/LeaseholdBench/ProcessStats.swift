import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time used so far by one process, read from `/proc/<pid>/stat` (utime + stime).
struct ProcessCPU {
    let seconds: Double
    let at: UInt64

    /// Reads the CPU time of `pid`, or nil when `/proc` has no such process.
    static func read(pid: Int32) -> ProcessCPU? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ')': state is field 3, so utime (14) and stime (15) are at offsets 11 and 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ProcessCPU(seconds: (user + system) / ticks, at: monotonicNanos())
    }

    /// CPU time of this process, from `getrusage`.
    static func ownProcess() -> ProcessCPU {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return ProcessCPU(seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime), at: monotonicNanos())
    }

    /// Percent of one core used between `earlier` and `self`.
    func percentOfOneCore(since earlier: ProcessCPU) -> Double {
        let wall = Double(self.at - earlier.at) / 1e9
        guard wall > 0 else { return 0 }
        return (100 * (self.seconds - earlier.seconds) / wall).rounded(toPlaces: 1)
    }
}

/// CPU time used so far by a process and its children, such as a PostgreSQL postmaster and its backends: the
/// processes of a store that runs outside the server.
struct ProcessTreeCPU {
    /// Seconds of CPU per process id.
    let seconds: [Int32: Double]
    let at: UInt64

    /// Reads `root` and every process whose parent is `root`.
    static func read(root: Int32) -> ProcessTreeCPU? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var seconds: [Int32: Double] = [:]
        for entry in entries {
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After ')': state, ppid, ... utime and stime at offsets 11 and 12.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let parent = Int32(fields[1]), pid == root || parent == root,
                let user = Double(fields[11]), let system = Double(fields[12])
            else { continue }
            seconds[pid] = (user + system) / ticks
        }
        guard seconds[root] != nil else { return nil }
        return ProcessTreeCPU(seconds: seconds, at: monotonicNanos())
    }

    /// Percent of one core the tree used between `earlier` and `self`: processes that started since count whole,
    /// processes that ended since are missed.
    func percentOfOneCore(since earlier: ProcessTreeCPU) -> Double {
        let wall = Double(self.at - earlier.at) / 1e9
        guard wall > 0 else { return 0 }
        let used = self.seconds.reduce(0.0) { sum, entry in sum + entry.value - (earlier.seconds[entry.key] ?? 0) }
        return (100 * used / wall).rounded(toPlaces: 1)
    }
}

/// Busy and total jiffies of all cores together, from the first line of `/proc/stat`.
struct MachineCPU {
    let busy: Double
    let total: Double
    let at: UInt64

    static func read() -> MachineCPU? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard values.count >= 8 else { return nil }
        // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
        let total = values.prefix(8).reduce(0, +)
        return MachineCPU(busy: total - values[3] - values[4], total: total, at: monotonicNanos())
    }

    /// Busy time of all cores between `earlier` and `self`, in percent of one core (200% = both of 2 cores).
    func busyPercentOfOneCore(since earlier: MachineCPU) -> Double {
        let wall = Double(self.at - earlier.at) / 1e9
        guard wall > 0 else { return 0 }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (100 * (self.busy - earlier.busy) / ticks / wall).rounded(toPlaces: 1)
    }
}

/// Memory of a process, from `/proc/<pid>/status`.
struct ProcessMemory: Codable {
    /// `VmRSS`: resident now.
    var rssBytes: UInt64
    /// `VmHWM`: the most ever resident.
    var peakRSSBytes: UInt64

    static func read(pid: Int32) -> ProcessMemory? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kilobytes(_ name: String) -> UInt64? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else {
                return nil
            }
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { UInt64($0) }
        }
        guard let rss = kilobytes("VmRSS") else { return nil }
        return ProcessMemory(rssBytes: rss * 1024, peakRSSBytes: (kilobytes("VmHWM") ?? rss) * 1024)
    }
}

/// CPU shares over a measured window: the server's, this load generator's, and the whole machine's, so that a
/// reader can tell who was the bottleneck and whether anything else was running.
struct ResourceUsage: Codable {
    var serverCPUPercentOfOneCore: Double?
    /// The store's own processes (`--store-pid`: PostgreSQL's postmaster and its backends), when it has any.
    var storeCPUPercentOfOneCore: Double?
    var loadGeneratorCPUPercentOfOneCore: Double
    var machineBusyPercentOfOneCore: Double?
    /// Machine busy time used by neither the server, nor the store's processes, nor this process (other builds,
    /// tests, the kernel's own work).
    var otherCPUPercentOfOneCore: Double?
    var serverMemory: ProcessMemory?
    var loadAverageAtStart: String?
    var loadAverageAtEnd: String?
}

/// Samples CPU counters at the start of a window and turns them into ``ResourceUsage`` at its end.
struct ResourceMeter {
    let serverPID: Int32?
    let storePID: Int32?
    private var server: ProcessCPU?
    private var store: ProcessTreeCPU?
    private var own: ProcessCPU
    private var machine: MachineCPU?
    private let loadAverage: String?

    init(serverPID: Int32?, storePID: Int32? = nil) {
        self.serverPID = serverPID
        self.storePID = storePID
        self.server = serverPID.flatMap(ProcessCPU.read(pid:))
        self.store = storePID.flatMap(ProcessTreeCPU.read(root:))
        self.own = ProcessCPU.ownProcess()
        self.machine = MachineCPU.read()
        self.loadAverage = Self.loadAverage()
    }

    func finish() -> ResourceUsage {
        let own = ProcessCPU.ownProcess().percentOfOneCore(since: self.own)
        let server = self.serverPID.flatMap(ProcessCPU.read(pid:)).flatMap { now in
            self.server.map { now.percentOfOneCore(since: $0) }
        }
        let store = self.storePID.flatMap(ProcessTreeCPU.read(root:)).flatMap { now in
            self.store.map { now.percentOfOneCore(since: $0) }
        }
        let machine = MachineCPU.read().flatMap { now in self.machine.map { now.busyPercentOfOneCore(since: $0) } }
        let other = machine.map { max(0, $0 - own - (server ?? 0) - (store ?? 0)).rounded(toPlaces: 1) }
        return ResourceUsage(
            serverCPUPercentOfOneCore: server,
            storeCPUPercentOfOneCore: store,
            loadGeneratorCPUPercentOfOneCore: own,
            machineBusyPercentOfOneCore: machine,
            otherCPUPercentOfOneCore: other,
            serverMemory: self.serverPID.flatMap(ProcessMemory.read(pid:)),
            loadAverageAtStart: self.loadAverage,
            loadAverageAtEnd: Self.loadAverage()
        )
    }

    static func loadAverage() -> String? {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))
            .map { $0.split(separator: " ").prefix(3).joined(separator: " ") }
    }
}
