import ArgumentParser
import LeaseholdClient
import LeaseholdCore
import LeaseholdWire

/// `leasehold release --force KEY --reason TEXT`: an operator ends someone else's hold.
struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Force-release a lock held by another process (needs an admin token).",
        discussion: """
            A lock is normally released by its holder. This is the operator's tool for a holder that is stuck \
            but still keeps its session alive. The holder's session lives on; it loses only this lock, and \
            watchers see a FORCE_RELEASED event. The next waiter gets the lock with a higher fencing token, so \
            resources that check tokens refuse the old holder's late writes. A `leasehold lock` whose lock is \
            force-released stops its command.

            The server must run with --auth-file, and the token must have the role `admin`.

            Example:
              $ LEASEHOLD_TOKEN=s3cret leasehold release --force jobs/1 --reason "worker 3 hung on NFS"
            """
    )

    @OptionGroup var client: ClientOptions

    @Flag(help: "Required: say that you mean to end another process's hold.")
    var force = false

    @Argument(help: "The key.")
    var key: String

    @Option(help: "Why, for the server's log.")
    var reason: String

    func validate() throws {
        guard self.force else {
            throw ValidationError(
                "release needs --force: a holder releases its own lock by ending its command or session"
            )
        }
    }

    func run() async throws {
        try await CommandFailure.reporting(server: self.client.address) {
            let client = try await self.client.connect()
            do {
                let response = try await client.forceRelease(self.key, reason: self.reason)
                await client.close()
                let lock = response.released
                Output.print(
                    "released \(self.key), held by \(lock?.holderDescription ?? "unknown"), at revision \(response.revision)"
                )
            } catch let error as LeaseholdError where error.code == .notFound {
                throw CommandFailure("\(self.key) is not held: nothing to release")
            }
        }
    }
}
