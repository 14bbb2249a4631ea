import ArgumentParser
import Histogram
import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire
import NIOCore

/// `uncontended`: every client loops Acquire(own key, wait 0) + Release; the server's best case for throughput.
struct Uncontended: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Each client loops acquire(own key, wait 0) + release.",
        discussion: """
            Reports acquire+release pairs per second and the latency of each call. Closed loop: a client sends \
            its next call when the previous one has answered. Target (issue 6, --sync full, 64 clients): at least \
            50,000 pairs/s with acquire p99 below 3 ms.
            """
    )

    @OptionGroup var options: CommonOptions

    struct ClientResult: ClosedLoopResult {
        var acquire = makeLatencyHistogram()
        var release = makeLatencyHistogram()
        var pairs = 0
        var errors = ErrorTally()
    }

    func run() async throws {
        let options = self.options
        let connectionCount = options.connectionCount(default: options.clients, limit: options.clients)
        var report = Report(
            workload:
                "uncontended (\(options.clients) clients, \(options.connectionsLabel(connectionCount)))",
            options: options,
            parameters: options.parameters.merging(["connections": "\(connectionCount)"]) { $1 }
        )
        let connections = try await options.connect(count: connectionCount, name: "uncontended")
        let sessions = try await openSessions(
            count: options.clients,
            over: connections,
            ttl: loadSessionTTL,
            name: "uncontended"
        )
        let keeper = keepAliveInBackground(sessions, ttl: loadSessionTTL)
        Watchdog.arm(after: options.warmup.duration + options.duration.duration + .seconds(60), what: "uncontended")

        let window = Window(warmup: options.warmup.duration, duration: options.duration.duration)
        let (results, usage) = await runClients(options, window: window) { index in
            let session = sessions[index]
            let key = "bench/uncontended/\(index)"
            let connection = session.connection
            return await ClosedLoopClient.run(on: connection.eventLoop, window: window, ClientResult()) {
                (client: ClosedLoopClient<ClientResult>) -> EventLoopFuture<Void> in
                let sent = monotonicNanos()
                let acquire: EventLoopFuture<AcquireResponse> = connection.unaryFuture(
                    LeaseholdMethod.acquire,
                    AcquireRequest(sessionID: session.id, key: key, wait: .zero),
                    timeout: callTimeout
                )
                return acquire.assumeIsolated().flatMap { (acquired: AcquireResponse) -> EventLoopFuture<Void> in
                    guard let lock = acquired.lock else { return connection.eventLoop.makeFailedFuture(MissingLock()) }
                    let granted = monotonicNanos()
                    let release: EventLoopFuture<ReleaseResponse> = connection.unaryFuture(
                        LeaseholdMethod.release,
                        ReleaseRequest(sessionID: session.id, key: key, fencingToken: lock.fencingToken),
                        timeout: callTimeout
                    )
                    return release.assumeIsolated().map { (_: ReleaseResponse) -> Void in
                        let released = monotonicNanos()
                        if window.contains(released) {
                            client.result.acquire.recordClamped(granted - sent)
                            client.result.release.recordClamped(released - granted)
                            client.result.pairs += 1
                        }
                    }.nonisolated()
                }.nonisolated()
            }
        }
        keeper.cancel()

        var acquire = makeLatencyHistogram()
        var release = makeLatencyHistogram()
        var errors = ErrorTally()
        let pairs = results.reduce(0) { $0 + $1.pairs }
        for result in results {
            acquire.add(result.acquire)
            release.add(result.release)
            errors.merge(result.errors)
        }
        let pairsPerSecond = Double(pairs) / window.seconds
        // Closed loop: each client issues one pair per (clients / rate) seconds on average.
        let interval = pairs > 0 ? UInt64(Double(options.clients) * window.seconds * 1e9 / Double(pairs)) : 0
        report.figures = [
            "pairs": Double(pairs), "pairsPerSecond": pairsPerSecond.rounded(toPlaces: 1),
            "errors": Double(errors.total),
        ]
        report.latencies = ["acquire": LatencySummary(acquire), "release": LatencySummary(release)]
        report.correctedLatencies = [
            "acquire": LatencySummary(acquire.corrected(expectedInterval: interval)),
            "release": LatencySummary(release.corrected(expectedInterval: interval)),
        ]
        report.resources = usage
        report.notes.append(
            "closed loop; corrected latencies assume each client's mean pair interval, \(interval / 1_000) µs"
        )
        report.notes += errors.notes
        report.row("pairs/s", value: Format.count(pairsPerSecond), target: "≥ 50,000", met: pairsPerSecond >= 50_000)
        report.row(
            "acquire latency",
            latency: report.latencies["acquire"]!,
            target: "p99 < 3 ms",
            met: report.latencies["acquire"]!.p99Micros < 3_000
        )
        report.row("release latency", latency: report.latencies["release"]!)
        report.serverCPUPerOperation("pair", perSecond: pairsPerSecond)
        try report.emit(options: options)

        await closeSessions(sessions)
        for connection in connections { await connection.close() }
    }
}

/// An `Acquire` answered OK without a lock: a server bug, counted as an error.
struct MissingLock: Error, CustomStringConvertible {
    var description: String { "Acquire answered OK without a lock" }
}
