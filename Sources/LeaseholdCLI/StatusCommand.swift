import ArgumentParser
import LeaseholdClient
import LeaseholdCore
import LeaseholdWire

/// `leasehold status KEY`: who holds a key and who waits for it.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show who holds a key and who is queued for it.",
        discussion: """
            Prints the holder (session, owner, fencing token, since when) and the FIFO queue of sessions \
            waiting for the key, first in line first. A free key is not an error.

            Examples:
              $ leasehold status jobs/1
              $ leasehold status jobs/1 --json | jq .lock.fencing_token
            """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The key.")
    var key: String

    @Flag(help: "Print one JSON object: key, held, lock (null when free), waiters, queue, revision.")
    var json = false

    func run() async throws {
        try await CommandFailure.reporting(server: self.client.address) {
            let client = try await self.client.connect()
            let status = try await client.describe(self.key)
            await client.close()
            if self.json {
                try JSONLines.print(StatusJSON(key: self.key, status))
            } else {
                for line in Self.lines(key: self.key, status) { Output.print(line) }
            }
        }
    }

    /// The human form: a key/value table, then the queue as a table.
    static func lines(key: String, _ status: DescribeResponse) -> [String] {
        var table = TextTable(header: ["key", key])
        if let lock = status.lock, status.held {
            table.append(["held by", "session \(lock.sessionID)"])
            table.append(["owner", lock.owner])
            table.append(["fencing token", "\(lock.fencingToken)"])
            table.append(["since", lock.acquiredAt.iso8601])
            table.append(["session ttl", lock.sessionTTL.shortText])
        } else {
            table.append(["held by", "nobody (free)"])
        }
        table.append(["waiting", "\(status.waiters)"])
        table.append(["revision", "\(status.revision)"])
        var lines = table.lines()
        if !status.queue.isEmpty {
            var queue = TextTable(header: ["#", "SESSION", "OWNER", "WAITING SINCE"])
            for (position, waiter) in status.queue.enumerated() {
                queue.append(["\(position + 1)", "\(waiter.sessionID)", waiter.owner, waiter.waitingSince.iso8601])
            }
            lines.append("")
            lines.append("queue (granted in this order):")
            lines += queue.lines(indent: "  ")
        }
        return lines
    }
}
