import ArgumentParser
import LeaseholdClient
import LeaseholdCore
import LeaseholdWire

/// `leasehold list [PREFIX]`: the held locks.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List held locks, sorted by key.",
        discussion: """
            PREFIX is a plain byte prefix: `jobs/` lists jobs/1 and jobs/2 but not jobsite. Without PREFIX \
            every held lock is listed.

            Examples:
              $ leasehold list
              $ leasehold list jobs/
              $ leasehold list jobs/ --json | jq -r .key
            """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "Only keys that start with this.")
    var prefix = ""

    @Flag(
        help: """
            One JSON object per lock: key, session_id, fencing_token, owner, acquired_at_ms, session_ttl_ms. \
            Prints nothing when no lock is held.
            """
    )
    var json = false

    func run() async throws {
        try await CommandFailure.reporting(server: self.client.address) {
            let client = try await self.client.connect()
            let response = try await client.list(prefix: self.prefix)
            await client.close()
            if self.json {
                for lock in response.locks { try JSONLines.print(LockJSON(lock)) }
                return
            }
            guard !response.locks.isEmpty else {
                Output.print(self.prefix.isEmpty ? "no locks held" : "no locks held under \(self.prefix)")
                return
            }
            var table = TextTable(header: ["KEY", "SESSION", "OWNER", "TOKEN", "SINCE", "TTL"])
            for lock in response.locks {
                table.append([
                    lock.key, "\(lock.sessionID)", lock.owner, "\(lock.fencingToken)", lock.acquiredAt.iso8601,
                    lock.sessionTTL.shortText,
                ])
            }
            for line in table.lines() { Output.print(line) }
        }
    }
}
