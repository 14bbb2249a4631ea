import LeaseholdTestSupport
import LeaseholdTestUtilities

extension ServerProcess {
    /// Starts a `leasehold serve` node on a PostgreSQL store with a 1 s leader lease, on a known port: its advertised
    /// address must be known before it starts. Its SQLite file is unused; its log is `NAME.log` in `directory`.
    static func postgresNode(
        _ name: String,
        store url: String,
        port: Int,
        in directory: TemporaryDirectory,
        arguments: [String] = []
    ) async throws -> ServerProcess {
        let address = "127.0.0.1:\(port)"
        return try await ServerProcess.start(
            .leasehold,
            data: directory.file("\(name).db"),
            listen: address,
            log: directory.file("\(name).log"),
            arguments: ["--store", url, "--advertise", address, "--leader-lease", "1s"] + arguments
        )
    }

    /// Waits until this node logs that it is active.
    func waitUntilActive(within timeout: Duration = .seconds(15)) async throws {
        _ = try await self.process.firstLine(within: timeout, saying: "active") { line in
            line.contains("[LeaseholdServer] active") || line.hasSuffix(" active") ? true : nil
        }
    }
}
