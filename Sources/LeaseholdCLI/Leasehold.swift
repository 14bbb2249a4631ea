import ArgumentParser

/// The `leasehold` command: the server and the client commands in one executable (SPEC.md §6).
@main
struct Leasehold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leasehold",
        abstract: "A lock and lease server with fencing tokens.",
        discussion: """
            Run a server with `leasehold serve`. Wrap a command in a lock with \
            `leasehold lock KEY -- COMMAND ARGS…`: it runs only while the lock is held and sees \
            LEASEHOLD_FENCING_TOKEN in its environment.
            """,
        subcommands: [Serve.self])
}
