import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a result was measured on: enough to tell two results apart and to reproduce one.
struct MachineInfo: Codable {
    var cores: Int
    var memoryBytes: UInt64
    var kernel: String
    var cpuModel: String?
    var hostname: String

    static func current() -> MachineInfo {
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        return MachineInfo(
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryBytes: ProcessInfo.processInfo.physicalMemory,
            kernel: release,
            cpuModel: model,
            hostname: ProcessInfo.processInfo.hostName
        )
    }
}

/// The commit the figures belong to.
struct GitInfo: Codable {
    var commit: String?
    var branch: String?
    /// Whether tracked files differed from the commit when the run started.
    var dirty: Bool?

    static func current() -> GitInfo {
        GitInfo(
            commit: Self.git(["rev-parse", "HEAD"]),
            branch: Self.git(["rev-parse", "--abbrev-ref", "HEAD"]),
            dirty: Self.git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty }
        )
    }

    private static func git(_ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The server under test, as far as this process can see it.
struct ServerInfo: Codable {
    var address: String
    var pid: Int32?
    /// The server's own command line, from `/proc/<pid>/cmdline`.
    var commandLine: [String]?
    /// `--sync` as given with `--sync-mode`, or read from the server's command line (`full` when absent there,
    /// `PostgreSQL` for a node on `--store postgres://…`).
    var sync: String?

    static func describe(address: String, pid: Int32?, syncLabel: String?) -> ServerInfo {
        let commandLine = pid.flatMap { pid -> [String]? in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        }
        var sync = syncLabel
        if sync == nil, let commandLine {
            if let index = commandLine.firstIndex(of: "--store"), index + 1 < commandLine.count,
                commandLine[index + 1].hasPrefix("postgres")
            {
                sync = "PostgreSQL"
            } else if let index = commandLine.firstIndex(of: "--sync"), index + 1 < commandLine.count {
                sync = commandLine[index + 1]
            } else if let option = commandLine.first(where: { $0.hasPrefix("--sync=") }) {
                sync = String(option.dropFirst("--sync=".count))
            } else if commandLine.contains("serve") {
                sync = "full"
            }
        }
        return ServerInfo(address: address, pid: pid, commandLine: commandLine, sync: sync)
    }
}
