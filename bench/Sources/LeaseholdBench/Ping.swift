import ArgumentParser
import Histogram
import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire
import NIOCore

/// `ping`: the cheapest RPC the server has, as the ceiling of the RPC layer itself.
struct Ping: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Each client loops the cheapest call the server has: KeepAlive on its own session.",
        discussion: """
            Leasehold has no Ping RPC. KeepAlive is the cheapest call: it touches the session's deadline in \
            memory, writes nothing to disk and waits for no store barrier (Describe, Validate and List wait for \
            one). So this measures the RPC layer plus one mutex-guarded table update. Closed loop. Target \
            (issue 6, 64 clients): at least 100,000 calls/s.
            """
    )

    @OptionGroup var options: CommonOptions

    struct ClientResult: ClosedLoopResult {
        var latency = makeLatencyHistogram()
        var calls = 0
        var errors = ErrorTally()
    }

    func run() async throws {
        let options = self.options
        let connectionCount = options.connectionCount(default: options.clients, limit: options.clients)
        var report = Report(
            workload:
                "ping (\(options.clients) clients, \(options.connectionsLabel(connectionCount)))",
            options: options,
            parameters: options.parameters.merging(["connections": "\(connectionCount)", "rpc": "KeepAlive"]) { $1 }
        )
        let connections = try await options.connect(count: connectionCount, name: "ping")
        let sessions = try await openSessions(
            count: options.clients,
            over: connections,
            ttl: loadSessionTTL,
            name: "ping"
        )
        Watchdog.arm(after: options.warmup.duration + options.duration.duration + .seconds(60), what: "ping")

        let window = Window(warmup: options.warmup.duration, duration: options.duration.duration)
        let (results, usage) = await runClients(options, window: window) { index in
            let session = sessions[index]
            let request = KeepAliveRequest(sessionID: session.id)
            return await ClosedLoopClient.run(on: session.connection.eventLoop, window: window, ClientResult()) {
                (client: ClosedLoopClient<ClientResult>) -> EventLoopFuture<Void> in
                let sent = monotonicNanos()
                let call: EventLoopFuture<KeepAliveResponse> = session.connection.unaryFuture(
                    LeaseholdMethod.keepAlive,
                    request,
                    timeout: callTimeout
                )
                return call.assumeIsolated().map { (_: KeepAliveResponse) -> Void in
                    let answered = monotonicNanos()
                    if window.contains(answered) {
                        client.result.latency.recordClamped(answered - sent)
                        client.result.calls += 1
                    }
                }.nonisolated()
            }
        }

        var latency = makeLatencyHistogram()
        var errors = ErrorTally()
        let calls = results.reduce(0) { $0 + $1.calls }
        for result in results {
            latency.add(result.latency)
            errors.merge(result.errors)
        }
        let callsPerSecond = Double(calls) / window.seconds
        let interval = calls > 0 ? UInt64(Double(options.clients) * window.seconds * 1e9 / Double(calls)) : 0
        report.figures = [
            "calls": Double(calls), "callsPerSecond": callsPerSecond.rounded(toPlaces: 1),
            "errors": Double(errors.total),
        ]
        report.latencies = ["keepAlive": LatencySummary(latency)]
        report.correctedLatencies = ["keepAlive": LatencySummary(latency.corrected(expectedInterval: interval))]
        report.resources = usage
        report.notes.append("the RPC is KeepAlive (no Ping RPC exists); closed loop")
        report.notes += errors.notes
        report.row("calls/s", value: Format.count(callsPerSecond), target: "≥ 100,000", met: callsPerSecond >= 100_000)
        report.row("call latency", latency: report.latencies["keepAlive"]!)
        report.serverCPUPerOperation("call", perSecond: callsPerSecond)
        try report.emit(options: options)

        await closeSessions(sessions)
        for connection in connections { await connection.close() }
    }
}
