import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The process's CPU time, resident memory and open file descriptors, read from `/proc/self` at scrape time
/// (`process_*` metrics). Zero where `/proc` is missing.
struct ProcessStatistics {
    var cpuSeconds: Double = 0
    var residentBytes: Double = 0
    var virtualBytes: Double = 0
    var openFileDescriptors: Double = 0
    var startTimeSeconds: Double = 0

    static func read() -> ProcessStatistics {
        var result = ProcessStatistics()
        #if os(Linux)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after the command name, which may hold spaces: state is field 3, so index i is field i + 3.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 21, ticks > 0 {
                let user = Double(fields[11]) ?? 0
                let system = Double(fields[12]) ?? 0
                result.cpuSeconds = (user + system) / ticks
                result.virtualBytes = Double(fields[20]) ?? 0
                result.residentBytes = (Double(fields[21]) ?? 0) * pageSize
                if let uptime = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
                    let up = uptime.split(separator: " ").first.flatMap({ Double($0) })
                {
                    let sinceBoot = (Double(fields[19]) ?? 0) / ticks
                    result.startTimeSeconds = Date().timeIntervalSince1970 - up + sinceBoot
                }
            }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            result.openFileDescriptors = Double(entries.count)
        }
        #endif
        return result
    }
}
