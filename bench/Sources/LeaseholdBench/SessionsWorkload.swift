import ArgumentParser
import Histogram
import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire
import Synchronization

/// `sessions`: many idle sessions kept alive as the Swift client keeps them, to measure what liveness costs the
/// server in memory and CPU.
struct SessionsWorkload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "Open N sessions over a few connections and keep them alive for --duration.",
        discussion: """
            Sessions are opened with up to --open-in-flight OpenSession calls at once, spread round-robin over \
            the connections (default 8). Each session then sends a KeepAlive every TTL/3, as the Swift client \
            does, at its own phase (spread evenly over the interval, not in bursts); the schedule starts as each \
            session opens, so none can expire while the rest are opening. After a --warmup, the server's CPU \
            (utime + stime from /proc/<pid>/stat) is measured over --duration and its RSS (VmRSS from \
            /proc/<pid>/status) read at the end. Finally every session gets one more KeepAlive (while the \
            schedule goes on): any that fails with SESSION_EXPIRED or NOT_FOUND counts as expired, as does any \
            session whose keepalive failed so during the run. Keepalive latency is from send to answer; the \
            scheduler's lag (send time minus due time) is reported too, to show whether this process kept up. \
            Target (issue 6, --count 100000, TTL 10 s): all alive for 60 s, server RSS below 512 MiB, server CPU \
            below 30% of one core.
            """)

    @OptionGroup var options: CommonOptions

    @Option(help: "How many sessions to open.")
    var count = 100_000

    @Option(help: "The sessions' TTL; they send a KeepAlive every TTL/3.")
    var ttl = DurationArgument(.seconds(10), text: "10s")

    @Option(help: "How many OpenSession calls may be in flight at once.")
    var openInFlight = 64

    @Flag(name: .customLong("close-sessions"), help: "Close every session at the end (one commit each) instead of letting them expire.")
    var closeAtEnd = false

    func validate() throws {
        guard self.count > 0 else { throw ValidationError("--count must be positive") }
        guard self.ttl.duration >= .seconds(1) else { throw ValidationError("--ttl must be at least 1s") }
    }

    /// What one connection's scheduler measured. Keepalives are recorded only once `window` is set.
    struct Stats: Sendable {
        var window: Window?
        var latency = makeLatencyHistogram()
        var lag = makeLatencyHistogram()
        var keepAlivesInWindow = 0
        var keepAlivesSent = 0
        var expired: Set<Int> = []
        var errors = ErrorTally()
    }

    /// One connection's keepalive schedule: sessions arrive in `inbox` as they open; `run` sends each session's
    /// keepalive when due, without waiting for earlier answers (open loop).
    final class Scheduler: Sendable {
        let connection: RPCConnection
        let inbox = Mutex<[(index: Int, id: SessionID, firstDue: UInt64)]>([])
        let stats = Mutex(Stats())
        let stopped = Atomic<Bool>(false)

        init(connection: RPCConnection) { self.connection = connection }

        func run(interval: UInt64) async {
            let connection = self.connection
            await withDiscardingTaskGroup { group in
                var heap = DeadlineHeap()
                var ids: [Int: SessionID] = [:]
                while !self.stopped.load(ordering: .relaxed) {
                    for arrival in self.inbox.withLock({ inbox in defer { inbox = [] }; return inbox }) {
                        ids[arrival.index] = arrival.id
                        heap.push(due: arrival.firstDue, item: arrival.index)
                    }
                    let now = monotonicNanos()
                    while let next = heap.first, next.due <= now {
                        _ = heap.popFirst()
                        if self.stats.withLock({ $0.expired.contains(next.item) }) { continue }
                        heap.push(due: next.due + interval, item: next.item)
                        let index = next.item
                        let due = next.due
                        let request = KeepAliveRequest(sessionID: ids[index]!)
                        group.addTask {
                            let sent = monotonicNanos()
                            do {
                                let _: KeepAliveResponse = try await connection.unary(
                                    LeaseholdMethod.keepAlive, request, timeout: callTimeout)
                                let answered = monotonicNanos()
                                self.stats.withLock { stats in
                                    stats.keepAlivesSent += 1
                                    guard let window = stats.window, window.contains(answered) else { return }
                                    stats.latency.recordClamped(answered - sent)
                                    stats.lag.recordClamped(sent - min(due, sent))
                                    stats.keepAlivesInWindow += 1
                                }
                            } catch {
                                self.stats.withLock { stats in
                                    stats.keepAlivesSent += 1
                                    if SessionsWorkload.isExpiry(error) { stats.expired.insert(index) }
                                    stats.errors.add(error)
                                }
                            }
                        }
                    }
                    let wake = min(heap.first?.due ?? UInt64.max, monotonicNanos() + 2_000_000)
                    try? await sleep(until: wake)
                }
            }
        }
    }

    static func isExpiry(_ error: any Error) -> Bool {
        guard let error = error as? LeaseholdError else { return false }
        return error.code == .sessionExpired || error.code == .notFound
    }

    func run() async throws {
        let options = self.options
        let count = self.count
        let ttl = self.ttl.duration
        let interval = (ttl / 3).nanoseconds
        let connectionCount = options.connectionCount(default: 8, limit: count)
        var report = Report(
            workload: "sessions --count \(count) (TTL \(self.ttl), \(connectionCount) conns)", options: options,
            parameters: options.parameters.merging([
                "connections": "\(connectionCount)", "count": "\(count)", "ttl": self.ttl.description,
                "openInFlight": "\(self.openInFlight)",
            ]) { $1 })
        // Opening may take a while: the bound allows at least 500 opens/s.
        Watchdog.arm(
            after: options.warmup.duration + options.duration.duration + .seconds(Int64(count / 500) + 120),
            what: "sessions")
        let connections = try await options.connect(count: connectionCount, name: "sessions")
        let schedulers = connections.map(Scheduler.init(connection:))
        let runners = Task {
            await withDiscardingTaskGroup { group in
                for scheduler in schedulers {
                    group.addTask { await scheduler.run(interval: interval) }
                }
            }
        }

        // MARK: Open
        let openStart = monotonicNanos()
        let opened = try await concurrentMap(0..<count, limit: self.openInFlight) { index -> (UInt64, SessionID?) in
            let scheduler = schedulers[index % schedulers.count]
            let sent = monotonicNanos()
            let info: SessionInfo
            do {
                info = try await scheduler.connection.unary(
                    LeaseholdMethod.openSession, OpenSessionRequest(ttl: ttl, name: "bench-session-\(index)"),
                    timeout: callTimeout)
            } catch {
                return (monotonicNanos() - sent, nil)  // counted below; the run goes on with the sessions it has
            }
            // Phases spread evenly over the interval by the golden ratio, whatever the order of opening.
            let phase = (Double(index + 1) * 0.618_033_988_749_895).truncatingRemainder(dividingBy: 1)
            let firstDue = sent + UInt64(Double(interval) * max(0.02, phase))
            scheduler.inbox.withLock { $0.append((index, info.sessionID, firstDue)) }
            return (monotonicNanos() - sent, info.sessionID)
        }
        var open = makeLatencyHistogram()
        for (latency, _) in opened { open.recordClamped(latency) }
        let sessionIDs = opened.map(\.1)
        let failedOpens = sessionIDs.count { $0 == nil }
        let openSeconds = Double(monotonicNanos() - openStart) / 1e9
        let memoryAfterOpen = options.serverPID.flatMap(ProcessMemory.read(pid:))

        // MARK: Keep alive
        let window = Window(warmup: options.warmup.duration, duration: options.duration.duration)
        for scheduler in schedulers { scheduler.stats.withLock { $0.window = window } }
        try? await sleep(until: window.measureStart)
        let meter = ResourceMeter(serverPID: options.serverPID)
        try? await sleep(until: window.measureEnd)
        let usage = meter.finish()

        // MARK: Final check, with the schedule still running so that the check itself cannot let sessions lapse.
        let finalResults = try await concurrentMap(0..<count, limit: 64) { index -> (expired: Bool, error: String?) in
            let scheduler = schedulers[index % schedulers.count]
            guard let id = sessionIDs[index] else { return (false, nil) }
            do {
                let _: KeepAliveResponse = try await scheduler.connection.unary(
                    LeaseholdMethod.keepAlive, KeepAliveRequest(sessionID: id), timeout: callTimeout)
                return (false, nil)
            } catch {
                return (Self.isExpiry(error), Self.isExpiry(error) ? nil : "\(error)")
            }
        }
        for scheduler in schedulers { scheduler.stopped.store(true, ordering: .relaxed) }
        await runners.value

        // MARK: Report
        var stats = Stats()
        for scheduler in schedulers {
            let part = scheduler.stats.withLock { $0 }
            stats.latency.add(part.latency)
            stats.lag.add(part.lag)
            stats.keepAlivesInWindow += part.keepAlivesInWindow
            stats.keepAlivesSent += part.keepAlivesSent
            stats.expired.formUnion(part.expired)
            stats.errors.merge(part.errors)
        }
        var expired = stats.expired
        for (index, result) in finalResults.enumerated() where result.expired { expired.insert(index) }
        let finalErrors = finalResults.compactMap(\.error)
        let keepAlivesPerSecond = Double(stats.keepAlivesInWindow) / window.seconds
        let alive = count - failedOpens - expired.count

        report.figures = [
            "sessions": Double(count), "failedOpens": Double(failedOpens), "openSeconds": openSeconds.rounded(toPlaces: 2),
            "opensPerSecond": (Double(count) / openSeconds).rounded(toPlaces: 1),
            "keepAlivesPerSecond": keepAlivesPerSecond.rounded(toPlaces: 1),
            "expectedKeepAlivesPerSecond": (Double(count) / (Double(interval) / 1e9)).rounded(toPlaces: 1),
            "expired": Double(expired.count), "expiredDuringRun": Double(stats.expired.count),
            "finalCheckErrors": Double(finalErrors.count), "keepAliveErrors": Double(stats.errors.total),
            "aliveSeconds": window.seconds,
        ]
        if let memoryAfterOpen { report.figures["serverRSSBytesAfterOpen"] = Double(memoryAfterOpen.rssBytes) }
        report.latencies = [
            "keepAlive": LatencySummary(stats.latency), "schedulerLag": LatencySummary(stats.lag),
            "openSession": LatencySummary(open),
        ]
        // Open loop: each session's keepalives are due every TTL/3 whatever the answers do.
        report.correctedLatencies = ["keepAlive": LatencySummary(stats.latency.corrected(expectedInterval: interval))]
        report.resources = usage
        report.notes.append(
            "keepalives are open loop (due every \(interval / 1_000_000) ms per session); scheduler lag p99 "
                + Format.micros(report.latencies["schedulerLag"]!.p99Micros))
        report.notes += stats.errors.notes
        if failedOpens > 0 { report.notes.append("\(failedOpens) OpenSession calls failed (not answered within \(callTimeout))") }
        if let example = finalErrors.first { report.notes.append("\(finalErrors.count) final checks failed, e.g. \(example)") }

        let fullSize = count >= 100_000 && window.seconds >= 60 && ttl == .seconds(10)
        report.row(
            "sessions alive",
            value: "\(Format.count(Double(alive))) of \(Format.count(Double(count))) for \(Int(window.seconds)) s",
            target: "100,000 alive 60 s, 0 expired",
            met: fullSize ? alive == count : (alive == count ? nil : false))
        if let memory = usage.serverMemory {
            report.row(
                "server RSS", value: Format.mebibytes(memory.rssBytes), target: "< 512 MiB",
                met: fullSize ? memory.rssBytes < 512 << 20 : nil)
        }
        if let cpu = usage.serverCPUPercentOfOneCore {
            report.row(
                "server CPU (\(Format.count(keepAlivesPerSecond)) keepalives/s)", value: "\(Format.percent(cpu)) of a core",
                target: "< 30%", met: fullSize ? cpu < 30 : nil)
        }
        report.row("keepalive latency", latency: report.latencies["keepAlive"]!)
        report.row("OpenSession rate", value: "\(Format.count(Double(count) / openSeconds))/s")
        try report.emit(options: options)

        if self.closeAtEnd {
            let sessions = (0..<count).compactMap { index in
                sessionIDs[index].map {
                    BenchSession(id: $0, connection: schedulers[index % schedulers.count].connection, openedAt: 0)
                }
            }
            await closeSessions(sessions)
        }
        for connection in connections { await connection.close() }
    }
}
