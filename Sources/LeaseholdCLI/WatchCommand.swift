import ArgumentParser
import LeaseholdClient
import LeaseholdCore
import LeaseholdWire

/// `leasehold watch [PREFIX] [--from REV] [--json]`: a live stream of lock events.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print lock events (grants, releases, expiries, force-releases) as they happen.",
        discussion: """
            Runs until interrupted (Ctrl-C). Each event is one line with its revision, the server-wide counter \
            that every change moves by one. If the connection drops, watch reconnects and resumes after the \
            last revision it printed, so no event is lost or printed twice.

            Without --from, only events from now on are printed. With --from REV, events since revision REV \
            (inclusive) come first; to continue where an earlier watch stopped, pass its last revision + 1. If \
            the server no longer keeps REV, watch fails and names the oldest revision it still has.

            Examples:
              $ leasehold watch jobs/
              rev 42 ACQUIRED jobs/1 session 7 token 42 owner anonymous at 2025-01-31T12:00:00.250Z
              rev 43 RELEASED jobs/1 session 7 token 42 owner anonymous at 2025-01-31T12:00:03.100Z

              $ leasehold watch --json --from 1
              {"at_ms":1738324800250,"fencing_token":42,"key":"jobs/1","owner":"anonymous",\
            "revision":42,"session_id":7,"type":"ACQUIRED"}

            Event types: ACQUIRED (fencing_token is the new grant's), RELEASED, EXPIRED (the holder's session \
            timed out), FORCE_RELEASED (an admin ended the hold); the last three carry the token of the grant \
            that ended.
            """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "Only keys that start with this; all keys when omitted.")
    var prefix = ""

    @Option(name: .customLong("from"), help: ArgumentHelp("Start at this revision (inclusive).", valueName: "rev"))
    var revision: UInt64?

    @Flag(help: "One JSON object per event: revision, type, key, session_id, fencing_token, owner, at_ms.")
    var json = false

    func validate() throws {
        if self.revision == 0 { throw ValidationError("--from must be at least 1 (revisions start at 1)") }
    }

    func run() async throws {
        try await CommandFailure.reporting(server: self.client.address) {
            let client = try await self.client.connect()
            do {
                for try await event in client.watch(prefix: self.prefix, from: self.revision ?? 0) {
                    if self.json {
                        try JSONLines.print(EventJSON(event))
                    } else {
                        Output.print(event.line)
                    }
                }
            } catch let error as LeaseholdError where error.code == .compacted {
                throw CommandFailure(
                    "revision \(self.revision ?? 0) is no longer kept; the oldest kept is \(error.compactRevision) "
                        + "(list the locks, then watch --from \(error.compactRevision) or from now)"
                )
            }
        }
    }
}
