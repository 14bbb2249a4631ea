import ArgumentParser
import NIOCore
import NIOPosix

/// The entry point: Swift concurrency's jobs run on the event loops (as in `leasehold serve`), so that a client
/// loop's task and its connection share a thread instead of hopping between the cooperative pool and the loop.
@main
enum Main {
    static func main() async {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await LeaseholdBench.main()
    }
}

/// `leasehold-bench`: drives a running `leasehold serve` over TCP with the RPC layer and reports throughput and
/// latency, as issue 6 asks.
struct LeaseholdBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leasehold-bench",
        abstract: "Load generator for a Leasehold server (loopback only).",
        discussion: """
            Each workload connects to --server, warms up for --warmup, measures for --duration, and prints a \
            table (or JSON with --json; --output also writes the JSON to a file). With --server-pid it reads the \
            server's CPU and memory from /proc. bench/run.sh runs the standard set against fresh servers.
            """,
        subcommands: [
            Uncontended.self, Contended.self, SessionsWorkload.self, Expiry.self, WatchWorkload.self, Ping.self,
            RedisUncontended.self, RedisContended.self, FsyncProbe.self, LoopbackProbe.self, FailoverProbe.self,
            Table.self,
        ]
    )
}
