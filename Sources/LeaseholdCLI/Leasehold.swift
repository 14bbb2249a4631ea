import ArgumentParser

/// The `leasehold` command: the server and the client commands in one executable (README.md, "Configuration").
@main
struct Leasehold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leasehold",
        abstract: "A lock and lease server with fencing tokens, and its command-line client.",
        discussion: """
            Processes that must not do the same work at the same time take locks on named keys (such as \
            jobs/nightly) from a Leasehold server. Every grant carries a fencing token, a number that only \
            grows, so that shared resources can refuse writes from a holder that has lost its lock.

            Start a server, then wrap a command in a lock:
              $ leasehold serve --data /var/lib/leasehold.db
              $ leasehold lock jobs/nightly -- ./nightly-report.sh
              $ leasehold list
              $ leasehold watch jobs/

            Client commands find the server with --server HOST:PORT, else $LEASEHOLD_SERVER, else \
            127.0.0.1:7420, and send --token, else $LEASEHOLD_TOKEN, to servers started with --auth-file. \
            Durations are written 500ms, 10s, 2m or 1h.

            Exit status:
              0    success
              1    the lock is held by someone else (--wait 0), or the wait for it ran out
              2    `lock` lost its lock while the command ran, and stopped the command
              64   bad usage: unknown option, bad value, missing argument
              69   the server cannot be reached or does not answer; `serve` cannot listen or open its data file
              70   any other error
              77   no or unknown token, or not allowed (release --force needs admin)
              `lock` otherwise exits with its command's status (128 + N if the command died of signal N; \
            126/127 if it could not be run).
            """,
        subcommands: [
            Serve.self, LockCommand.self, StatusCommand.self, ListCommand.self, WatchCommand.self,
            ReleaseCommand.self, TopCommand.self, HashTokenCommand.self,
        ]
    )
}
