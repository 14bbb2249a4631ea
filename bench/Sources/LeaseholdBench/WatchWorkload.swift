import ArgumentParser
import Histogram
import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire
import NIOConcurrencyHelpers
import Synchronization

/// `watch`: fan-out of events to many watchers of one prefix.
struct WatchWorkload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "N watchers on one prefix while one client acquires and releases; report delivery latency.",
        discussion: """
            --watchers Watch streams (prefix bench/watch/<run>/, spread over the connections, default 8) are \
            opened and confirmed live (each has seen an event) before the clock starts. One client on its own \
            connection then acquires and releases one key of that prefix --rate times a second (acquire at the \
            start of each period, release half a period later), open loop. Delivery latency of an event to a \
            watcher = the time the watcher's stream callback receives it - the time the acquiring client sent the Acquire \
            (or Release) that caused it, on this process's monotonic clock. It is measured from the send, not \
            from the grant's arrival, because the server publishes an event when the commit completes, before \
            or while it answers the caller, so a watcher may see it first; the grant-based figure is in the JSON \
            too (signed). It includes the commit (an fsync under --sync full) and this process's own reading and \
            decoding of 1,000 streams on the same 2 cores. Events caused by calls sent in the window \
            count; a delivery that never arrives is counted as missing. Target (issue 6, --watchers 1000): \
            p99 below 10 ms.
            """
    )

    @OptionGroup var options: CommonOptions

    @Option(help: "How many Watch streams.")
    var watchers = 1_000

    @Option(help: "Acquire + release cycles per second by the one acquiring client (two events each).")
    var rate = 25

    func validate() throws {
        guard self.watchers > 0 else { throw ValidationError("--watchers must be positive") }
        guard (1...1_000).contains(self.rate) else { throw ValidationError("--rate must be 1...1000") }
    }

    struct Delivery: Sendable {
        var revision: UInt64
        var receivedAt: UInt64
    }

    struct Cause: Sendable {
        var sentAt: UInt64
        /// When the Acquire's answer arrived (nil for a Release).
        var grantedAt: UInt64?
    }

    /// How many watchers have seen their first event.
    final class LiveCounter: Sendable {
        let count = Atomic<Int>(0)
    }

    /// One Watch stream and what it has received.
    final class Watcher: Sendable {
        private struct Received {
            var deliveries: [Delivery] = []
            var any = false
        }

        private let received = NIOLockedValueBox(Received())
        private let cancel: @Sendable () -> Void

        init(connection: RPCConnection, prefix: String, live: LiveCounter) {
            let received = self.received
            received.withLockedValue { $0.deliveries.reserveCapacity(1_024) }
            self.cancel = connection.serverStream(
                LeaseholdMethod.watch,
                WatchRequest(prefix: prefix),
                onItem: { response in
                    let now = monotonicNanos()
                    let first = received.withLockedValue { received in
                        for event in response.events {
                            received.deliveries.append(Delivery(revision: event.revision, receivedAt: now))
                        }
                        defer { received.any = true }
                        return !received.any
                    }
                    if first { live.count.add(1, ordering: .relaxed) }
                },
                onEnd: { _ in }
            )
        }

        /// Ends the stream and returns what it received.
        func stop() -> [Delivery] {
            self.cancel()
            return self.received.withLockedValue { $0.deliveries }
        }
    }

    /// The send time of the call behind each revision, by revision.
    final class CauseLog: Sendable {
        private let causes = Mutex<[UInt64: Cause]>([:])
        func record(_ revision: UInt64, _ cause: Cause) { self.causes.withLock { $0[revision] = cause } }
        var all: [UInt64: Cause] { self.causes.withLock { $0 } }
    }

    func run() async throws {
        let options = self.options
        let watcherCount = self.watchers
        let period = 1_000_000_000 / UInt64(self.rate)
        let connectionCount = options.connectionCount(default: 8, limit: watcherCount)
        var report = Report(
            workload:
                "watch --watchers \(watcherCount) (\(self.rate * 2) events/s, "
                + "\(options.connectionsLabel(connectionCount)))",
            options: options,
            parameters: options.parameters.merging([
                "connections": "\(connectionCount)", "watchers": "\(watcherCount)",
                "cyclesPerSecond": "\(self.rate)",
            ]) { $1 }
        )
        report.parameters["clients"] = "1 acquiring client"
        Watchdog.arm(after: options.warmup.duration + options.duration.duration + .seconds(120), what: "watch")

        let run = UInt64.random(in: 0..<UInt64(1) << 40)
        let prefix = "bench/watch/\(run)/"
        let key = prefix + "lock"
        let watcherConnections = try await options.connect(count: connectionCount, name: "watchers")
        let acquirerConnection = try await options.connect(count: 1, name: "watch-acquirer")[0]
        let session = try await openSessions(count: 1, over: [acquirerConnection], ttl: loadSessionTTL, name: "watch")[
            0
        ]
        let keeper = keepAliveInBackground([session], ttl: loadSessionTTL)

        // MARK: Watchers
        // Each watcher records its deliveries in the stream's callback, on its connection's event loop, as the frame
        // is read: what a watcher built on NIO sees, without a task resume per delivery in between.
        let live = LiveCounter()
        let watchers = (0..<watcherCount).map { index in
            Watcher(connection: watcherConnections[index % watcherConnections.count], prefix: prefix, live: live)
        }

        // Cycles until every watcher has seen an event (bounded): then all streams are live.
        let causes = CauseLog()
        var errors = ErrorTally()
        let readyBy = monotonicNanos() + 60_000_000_000
        while live.count.load(ordering: .relaxed) < watcherCount, monotonicNanos() < readyBy {
            do {
                try await self.cycle(session: session, key: key, releaseAt: nil, causes: nil)
            } catch {
                errors.add(error)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let liveWatchers = live.count.load(ordering: .relaxed)

        // MARK: Measured cycles, open loop at --rate.
        let window = Window(warmup: options.warmup.duration, duration: options.duration.duration)
        var meter: ResourceMeter?
        var acquireLatency = makeLatencyHistogram()
        var cycle: UInt64 = 0
        while true {
            let due = window.start + cycle * period
            guard window.isOpen(at: due) else { break }
            try? await sleep(until: due)
            if meter == nil, monotonicNanos() >= window.measureStart {
                meter = ResourceMeter(serverPID: options.serverPID, storePID: options.storePID)
            }
            do {
                let latency = try await self.cycle(
                    session: session,
                    key: key,
                    releaseAt: due + period / 2,
                    causes: window.contains(due) ? causes : nil
                )
                if window.contains(due) { acquireLatency.recordCorrectedValue(latency, expectedInterval: period) }
            } catch {
                errors.add(error)
            }
            cycle += 1
        }
        let usage = meter?.finish()
        // Late deliveries still count: give them a moment, then end the streams.
        try await Task.sleep(for: .seconds(1))
        let deliveries = watchers.map { $0.stop() }
        keeper.cancel()

        // MARK: Join deliveries with their causes.
        let causeByRevision = causes.all
        var delivery = makeLatencyHistogram()
        var fromGrant = SignedSamples()
        var delivered = 0
        for watcher in deliveries {
            for item in watcher {
                guard let cause = causeByRevision[item.revision] else { continue }
                delivered += 1
                delivery.recordClamped(item.receivedAt &- cause.sentAt)
                if let granted = cause.grantedAt {
                    fromGrant.append(Int64(bitPattern: item.receivedAt &- granted))
                }
            }
        }
        let expected = causeByRevision.count * watcherCount
        report.figures = [
            "liveWatchers": Double(liveWatchers), "events": Double(causeByRevision.count),
            "deliveries": Double(delivered), "missingDeliveries": Double(max(0, expected - delivered)),
            "deliveriesPerSecond": (Double(delivered) / window.seconds).rounded(toPlaces: 1),
            "errors": Double(errors.total),
        ]
        report.latencies = ["delivery": LatencySummary(delivery), "acquire": LatencySummary(acquireLatency)]
        report.signedLatencies = ["deliveryFromGrantReceived": fromGrant.summary()]
        report.resources = usage
        report.notes.append(
            "delivery = watcher's stream callback receives the event - the Acquire/Release that caused it was sent; "
                + "\(liveWatchers) of \(watcherCount) watchers were live before the window"
        )
        report.notes += errors.notes
        let summary = report.latencies["delivery"]!
        let targeted = watcherCount >= 1_000
        report.rows.append(
            TableRow(
                workload: report.workload,
                sync: report.sync,
                figure: "delivery latency (max \(Format.micros(summary.maxMicros)))",
                value:
                    "\(Format.count(Double(delivered))) deliveries, \(Format.count(Double(max(0, expected - delivered)))) missing",
                p50: Format.micros(summary.p50Micros),
                p99: Format.micros(summary.p99Micros),
                target: targeted ? "p99 < 10 ms" : "–",
                met: targeted ? (summary.p99Micros < 10_000 && delivered == expected ? "yes" : "no") : "–"
            )
        )
        try report.emit(options: options)

        await closeSessions([session])
        await acquirerConnection.close()
        for connection in watcherConnections { await connection.close() }
    }

    /// Acquires and releases `key` once; returns the Acquire's latency. With `causes`, records the send time of each
    /// call under the revision of the event it caused. With `releaseAt`, releases no earlier than then.
    @discardableResult
    private func cycle(
        session: BenchSession,
        key: String,
        releaseAt: UInt64?,
        causes: CauseLog?
    ) async throws -> UInt64 {
        let sent = monotonicNanos()
        let acquired: AcquireResponse = try await session.connection.unary(
            LeaseholdMethod.acquire,
            AcquireRequest(sessionID: session.id, key: key, wait: .zero),
            timeout: callTimeout
        )
        let granted = monotonicNanos()
        guard let lock = acquired.lock else { throw MissingLock() }
        causes?.record(lock.fencingToken, Cause(sentAt: sent, grantedAt: granted))
        if let releaseAt { try? await sleep(until: releaseAt) }
        let releaseSent = monotonicNanos()
        let released: ReleaseResponse = try await session.connection.unary(
            LeaseholdMethod.release,
            ReleaseRequest(sessionID: session.id, key: key, fencingToken: lock.fencingToken),
            timeout: callTimeout
        )
        causes?.record(released.revision, Cause(sentAt: releaseSent, grantedAt: nil))
        return granted - sent
    }
}
