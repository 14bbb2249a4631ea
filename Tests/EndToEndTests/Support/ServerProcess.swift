import Foundation
import LeaseholdTestSupport
import Testing

/// A built `leasehold serve` on 127.0.0.1 and a port the kernel chose, with its database in `directory`.
final class ServerProcess {
    let process: SpawnedProcess
    /// `127.0.0.1:PORT`, for `--server`.
    let address: String

    /// Starts the server and waits (at most 20 s) for its `listening address=…` log line.
    /// - Parameters:
    ///   - directory: Holds the database and the output files.
    ///   - arguments: More `serve` flags, such as `--auth-file`.
    init(in directory: TemporaryDirectory, _ arguments: [String] = []) async throws {
        let process = try SpawnedProcess(
            ["serve", "--listen", "127.0.0.1:0", "--data", directory.file("leasehold.db")] + arguments,
            in: directory
        )
        self.process = process
        var port: String?
        do {
            try await eventually(within: .seconds(20), "the server's listening line; stderr: \(process.standardError)")
            {
                port = Self.port(inLog: process.standardError)
                return port != nil
            }
        } catch {
            process.killIfRunning()
            throw error
        }
        self.address = "127.0.0.1:\(port!)"
    }

    /// The port in a line like `… address=[IPv4]127.0.0.1/127.0.0.1:40123 [LeaseholdRPC] listening`.
    static func port(inLog log: String) -> String? {
        for line in log.split(separator: "\n") where line.hasSuffix("listening") {
            guard let start = line.range(of: "address=") else { continue }
            let address = line[start.upperBound...].prefix { $0 != " " }
            guard let colon = address.lastIndex(of: ":") else { continue }
            let port = address[address.index(after: colon)...]
            if !port.isEmpty, port.allSatisfy(\.isNumber) { return String(port) }
        }
        return nil
    }

    /// Stops the server cleanly (SIGTERM) and checks that it exits 0.
    func stop() async throws {
        self.process.send(SIGCONT)
        self.process.send(SIGTERM)
        #expect(try await self.process.exitStatus(within: .seconds(10)) == 0, "serve exits 0 on SIGTERM")
    }

    /// SIGKILLs the server if it still runs.
    func killIfRunning() { self.process.killIfRunning() }
}

/// A finished `leasehold` run.
struct CommandResult {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// Runs `leasehold arguments…` to completion (at most `timeout`).
func leasehold(
    _ arguments: [String],
    environment: [String: String] = [:],
    in directory: TemporaryDirectory,
    timeout: Duration = .seconds(15)
) async throws -> CommandResult {
    let process = try SpawnedProcess(arguments, environment: environment, in: directory)
    defer { process.killIfRunning() }
    let status = try await process.exitStatus(within: timeout)
    return CommandResult(status: status, standardOutput: process.standardOutput, standardError: process.standardError)
}
