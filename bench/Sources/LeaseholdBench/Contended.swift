import ArgumentParser
import Histogram
import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire
import NIOCore

/// `contended`: every client waits on one of a few keys, so each grant is a hand-off from a releasing holder.
struct Contended: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "All clients wait (FIFO) on a few keys: grants/s, acquire latency and hand-off latency.",
        discussion: """
            Client i loops Acquire(key i mod K, wait 30 s) + Release, holding for no time. Hand-off latency is \
            measured across clients on this process's monotonic clock: from the moment a holder sends its Release \
            to the moment the next holder's Acquire answer arrives. The next holder is found by revision: the \
            server gives the next grant on a key the revision right after the release's (release and hand-over \
            are one transition), so a grant with fencing token t on key k follows the release on k whose \
            revision is t - 1. Under --sync full a hand-off is one commit, bounded below by the disk's fsync \
            (see `leasehold-bench fsync`). Target (issue 6, --keys 1, 64 clients): at least 2,500 grants/s, \
            hand-off p99 below 2 ms.
            """
    )

    @OptionGroup var options: CommonOptions

    @Option(help: "How many keys the clients share (client i waits on key i mod keys).")
    var keys = 1

    @Option(help: "How long each Acquire may wait in the queue.")
    var wait = DurationArgument(.seconds(30), text: "30s")

    func validate() throws {
        guard self.keys > 0 else { throw ValidationError("--keys must be positive") }
    }

    struct Grant: Sendable {
        var token: UInt64
        var key: Int
        var receivedAt: UInt64
    }

    struct Release: Sendable {
        var revision: UInt64
        var key: Int
        var sentAt: UInt64
    }

    struct ClientResult: ClosedLoopResult {
        var acquire = makeLatencyHistogram()
        var grantsInWindow = 0
        var grants: [Grant] = []
        var releases: [Release] = []
        var errors = ErrorTally()
    }

    func run() async throws {
        let options = self.options
        let keys = self.keys
        let wait = self.wait.duration
        let connectionCount = options.connectionCount(default: options.clients, limit: options.clients)
        var report = Report(
            workload:
                "contended --keys \(keys) (\(options.clients) clients, \(options.connectionsLabel(connectionCount)))",
            options: options,
            parameters: options.parameters.merging([
                "connections": "\(connectionCount)", "keys": "\(keys)", "wait": self.wait.description,
            ]) { $1 }
        )
        let connections = try await options.connect(count: connectionCount, name: "contended")
        let sessions = try await openSessions(
            count: options.clients,
            over: connections,
            ttl: loadSessionTTL,
            name: "contended"
        )
        let keeper = keepAliveInBackground(sessions, ttl: loadSessionTTL)
        Watchdog.arm(
            after: options.warmup.duration + options.duration.duration + wait + .seconds(60),
            what: "contended"
        )

        let window = Window(warmup: options.warmup.duration, duration: options.duration.duration)
        let (results, usage) = await runClients(options, window: window) { index in
            let session = sessions[index]
            let connection = session.connection
            let keyIndex = index % keys
            let key = "bench/contended/\(keyIndex)"
            var initial = ClientResult()
            initial.grants.reserveCapacity(4_096)
            initial.releases.reserveCapacity(4_096)
            return await ClosedLoopClient.run(on: connection.eventLoop, window: window, initial) {
                (client: ClosedLoopClient<ClientResult>) -> EventLoopFuture<Void> in
                let sent = monotonicNanos()
                let acquire: EventLoopFuture<AcquireResponse> = connection.unaryFuture(
                    LeaseholdMethod.acquire,
                    AcquireRequest(sessionID: session.id, key: key, wait: wait),
                    timeout: wait + callTimeout
                )
                return acquire.assumeIsolated().flatMap { (acquired: AcquireResponse) -> EventLoopFuture<Void> in
                    let granted = monotonicNanos()
                    guard let lock = acquired.lock else { return connection.eventLoop.makeFailedFuture(MissingLock()) }
                    client.result.grants.append(Grant(token: lock.fencingToken, key: keyIndex, receivedAt: granted))
                    if window.contains(granted) {
                        client.result.acquire.recordClamped(granted - sent)
                        client.result.grantsInWindow += 1
                    }
                    let releaseSent = monotonicNanos()
                    let release: EventLoopFuture<ReleaseResponse> = connection.unaryFuture(
                        LeaseholdMethod.release,
                        ReleaseRequest(sessionID: session.id, key: key, fencingToken: lock.fencingToken),
                        timeout: callTimeout
                    )
                    return release.assumeIsolated().map { (released: ReleaseResponse) -> Void in
                        client.result.releases.append(
                            Release(revision: released.revision, key: keyIndex, sentAt: releaseSent)
                        )
                    }.nonisolated()
                }.nonisolated()
            }
        }
        keeper.cancel()

        var acquire = makeLatencyHistogram()
        var errors = ErrorTally()
        var releasesByRevision: [UInt64: Release] = [:]
        for result in results {
            acquire.add(result.acquire)
            errors.merge(result.errors)
            for release in result.releases { releasesByRevision[release.revision] = release }
        }
        var handOff = makeLatencyHistogram()
        var unmatched = 0
        for result in results {
            for grant in result.grants where window.contains(grant.receivedAt) {
                guard let release = releasesByRevision[grant.token - 1], release.key == grant.key else {
                    unmatched += 1
                    continue
                }
                handOff.recordClamped(grant.receivedAt - release.sentAt)
            }
        }
        let grants = results.reduce(0) { $0 + $1.grantsInWindow }
        let grantsPerSecond = Double(grants) / window.seconds
        let interval = grants > 0 ? UInt64(Double(options.clients) * window.seconds * 1e9 / Double(grants)) : 0
        report.figures = [
            "grants": Double(grants), "grantsPerSecond": grantsPerSecond.rounded(toPlaces: 1),
            "handOffs": Double(handOff.totalCount), "grantsWithoutMatchingRelease": Double(unmatched),
            "errors": Double(errors.total),
        ]
        report.latencies = ["acquire": LatencySummary(acquire), "handOff": LatencySummary(handOff)]
        report.correctedLatencies = ["acquire": LatencySummary(acquire.corrected(expectedInterval: interval))]
        report.resources = usage
        report.notes.append(
            "hand-off = next holder's grant received - releasing holder's Release sent; \(unmatched) grants in the "
                + "window had no release right before them (first grants, or a key that was free)"
        )
        report.notes += errors.notes
        let targeted = keys == 1
        report.row(
            "grants/s",
            value: Format.count(grantsPerSecond),
            target: targeted ? "≥ 2,500" : "–",
            met: targeted ? grantsPerSecond >= 2_500 : nil
        )
        report.row(
            "hand-off latency",
            latency: report.latencies["handOff"]!,
            target: targeted ? "p99 < 2 ms" : "–",
            met: targeted ? report.latencies["handOff"]!.p99Micros < 2_000 : nil
        )
        report.row("acquire latency (incl. queueing)", latency: report.latencies["acquire"]!)
        report.serverCPUPerOperation("grant", perSecond: grantsPerSecond)
        try report.emit(options: options)

        await closeSessions(sessions)
        for connection in connections { await connection.close() }
    }
}
