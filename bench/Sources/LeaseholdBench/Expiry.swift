import ArgumentParser
import Histogram
import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire

/// `expiry`: how precisely the server ends sessions whose holders stopped proving they are alive.
struct Expiry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Holders stop keepalives; report how late each waiter's grant comes after the holder's deadline.",
        discussion: """
            Each round: --holders sessions (TTL --ttl) open over half of the connections and each takes its own \
            key; as many waiter sessions, on the other half, queue on those keys (wait 20 s). Holder i then sends \
            one last KeepAlive at a time spread evenly over --stagger (so expiries are spread, not one burst), and \
            the holders' connections are closed without CloseSession. Rounds repeat until --duration has passed \
            (at least one); --warmup is not used.

            Deadline of holder i = the send time of its last successful KeepAlive (or of its OpenSession, if no \
            KeepAlive succeeded) + TTL, on this process's monotonic clock. The server starts the TTL when it \
            handles the call, which is after the send, so its real deadline is later than ours: lateness = \
            waiter's grant received - deadline overstates the server's lateness by the call's one-way latency \
            and is never negative. It includes the server's timer wake-up, the expiry's commit (an fsync under \
            --sync full) and the grant's delivery. Target (issue 6): p99 below 25 ms.
            """
    )

    @OptionGroup var options: CommonOptions

    @Option(help: "Holders per round (and as many waiters).")
    var holders = 200

    @Option(help: "The holders' TTL.")
    var ttl = DurationArgument(.seconds(2), text: "2s")

    @Option(help: "The holders' last keepalives are spread over this long.")
    var stagger = DurationArgument(.seconds(1), text: "1s")

    func validate() throws {
        guard self.holders > 0 else { throw ValidationError("--holders must be positive") }
        guard self.ttl.duration >= .seconds(1) else {
            throw ValidationError("--ttl must be at least 1s (the server's minimum)")
        }
        guard self.stagger.duration <= self.ttl.duration / 2 else {
            throw ValidationError("--stagger must be at most TTL/2")
        }
    }

    struct RoundResult: Sendable {
        var lateness: [Int64] = []
        var excluded = 0
        var errors = ErrorTally()
    }

    func run() async throws {
        let options = self.options
        let holders = self.holders
        let ttl = self.ttl.duration
        let stagger = self.stagger.duration.nanoseconds
        let connectionCount = max(2, options.connectionCount(default: 8, limit: 2 * holders))
        let holderConnections = connectionCount / 2
        let waiterConnectionCount = connectionCount - holderConnections
        var report = Report(
            workload:
                "expiry (\(holders) holders/round, TTL \(self.ttl), \(options.connectionsLabel(connectionCount)))",
            options: options,
            parameters: options.parameters.merging([
                "connections": "\(connectionCount)", "holders": "\(holders)", "ttl": self.ttl.description,
                "stagger": self.stagger.description,
            ]) { $1 }
        )
        report.parameters["warmup"] = "unused"
        let roundBound = ttl + .seconds(30)
        Watchdog.arm(after: options.duration.duration + roundBound * 2 + .seconds(60), what: "expiry")

        let run = UInt64.random(in: 0..<UInt64(1) << 40)
        let waiterConnections = try await options.connect(count: waiterConnectionCount, name: "expiry-waiters")
        let meter = ResourceMeter(serverPID: options.serverPID, storePID: options.storePID)
        let end = monotonicNanos() + options.duration.duration.nanoseconds
        var lateness = makeLatencyHistogram()
        var signed = SignedSamples()
        var excluded = 0
        var errors = ErrorTally()
        var rounds = 0
        repeat {
            let result = try await self.round(
                run: run,
                number: rounds,
                holders: holders,
                ttl: ttl,
                stagger: stagger,
                holderConnections: holderConnections,
                waiterConnections: waiterConnections
            )
            for value in result.lateness {
                lateness.recordClamped(UInt64(max(0, value)))
                signed.append(value)
            }
            excluded += result.excluded
            errors.merge(result.errors)
            rounds += 1
        } while monotonicNanos() < end
        let usage = meter.finish()

        report.figures = [
            "rounds": Double(rounds), "expiries": Double(lateness.totalCount), "excludedHolders": Double(excluded),
            "errors": Double(errors.total),
        ]
        report.latencies = ["lateness": LatencySummary(lateness)]
        report.signedLatencies = ["lateness": signed.summary()]
        report.resources = usage
        report.notes.append(
            "lateness = waiter's grant received - (send time of the holder's last successful KeepAlive + TTL); "
                + "an upper bound of the server's own lateness"
        )
        if excluded > 0 { report.notes.append("\(excluded) holders were left out: their setup failed") }
        report.notes += errors.notes
        let summary = report.latencies["lateness"]!
        report.row(
            "grant lateness after TTL deadline",
            latency: summary,
            target: "p99 < 25 ms",
            met: summary.p99Micros < 25_000
        )
        try report.emit(options: options)
        for connection in waiterConnections { await connection.close() }
    }

    /// One round: holders take keys, waiters queue, holders go silent, waiters are granted.
    private func round(
        run: UInt64,
        number: Int,
        holders: Int,
        ttl: Duration,
        stagger: UInt64,
        holderConnections count: Int,
        waiterConnections: [RPCConnection]
    ) async throws -> RoundResult {
        var result = RoundResult()
        let keys = (0..<holders).map { "bench/expiry/\(run)/\(number)/\($0)" }
        let holderConnections = try await self.options.connect(count: count, name: "expiry-holders-\(number)")
        let holderSessions = try await openSessions(
            count: holders,
            over: holderConnections,
            ttl: ttl,
            name: "expiry-holder"
        )
        let locked = try await concurrentMap(0..<holders, limit: 256) { index -> Bool in
            let session = holderSessions[index]
            let response: AcquireResponse? = try? await session.connection.unary(
                LeaseholdMethod.acquire,
                AcquireRequest(sessionID: session.id, key: keys[index], wait: .zero),
                timeout: callTimeout
            )
            return response?.lock != nil
        }
        let waiterSessions = try await openSessions(
            count: holders,
            over: waiterConnections,
            ttl: .seconds(60),
            name: "expiry-waiter"
        )

        // Waiters queue now; each returns when its grant arrives.
        let waits = Task {
            try await concurrentMap(0..<holders, limit: holders) { index -> (granted: UInt64?, token: UInt64) in
                let session = waiterSessions[index]
                do {
                    let response: AcquireResponse = try await session.connection.unary(
                        LeaseholdMethod.acquire,
                        AcquireRequest(sessionID: session.id, key: keys[index], wait: .seconds(20)),
                        timeout: .seconds(25)
                    )
                    return (monotonicNanos(), response.lock?.fencingToken ?? 0)
                } catch {
                    return (nil, 0)
                }
            }
        }
        // Make sure the waits are queued before any holder can expire: Describe the last key until it has a waiter.
        let probe = waiterConnections[0]
        for _ in 0..<100 {
            let described: DescribeResponse? = try? await probe.unary(
                LeaseholdMethod.describe,
                DescribeRequest(key: keys[holders - 1]),
                timeout: callTimeout
            )
            if (described?.waiters ?? 0) > 0 { break }
            try await Task.sleep(for: .milliseconds(5))
        }

        // Last keepalives, spread over the stagger; the deadline counts from the last one that succeeded.
        let start = monotonicNanos()
        let lastAlive = try await concurrentMap(0..<holders, limit: holders) { index -> UInt64 in
            let session = holderSessions[index]
            try? await sleep(until: start + stagger * UInt64(index) / UInt64(holders))
            let sent = monotonicNanos()
            do {
                let _: KeepAliveResponse = try await session.connection.unary(
                    LeaseholdMethod.keepAlive,
                    KeepAliveRequest(sessionID: session.id),
                    timeout: callTimeout
                )
                return sent
            } catch {
                return session.openedAt
            }
        }
        for connection in holderConnections { await connection.close() }

        let grants = try await waits.value
        for index in 0..<holders {
            guard locked[index], let granted = grants[index].granted else {
                result.excluded += 1
                continue
            }
            let deadline = lastAlive[index] + ttl.nanoseconds
            result.lateness.append(Int64(bitPattern: granted &- deadline))
        }
        // Clean up: the waiters release and close (their connections stay for the next round).
        await closeSessions(waiterSessions)
        return result
    }
}
