import ArgumentParser

/// The `fenced-resource` command: runs the FencedResource sample service (docs/protocol.md).
@main
struct FencedResourceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fenced-resource",
        abstract: "A sample resource that refuses writes carrying stale fencing tokens.",
        discussion: """
            Every write carries the fencing token of the lock its writer holds. A resource accepts a token only if \
            it is at least the highest it has accepted, so a writer that lost its lock (paused, partitioned, \
            expired) cannot overwrite the work of the newer holder. Start it with `fenced-resource serve`.
            """,
        subcommands: [Serve.self]
    )
}
