import LeaseholdCore
import LeaseholdRPC
import LeaseholdStore
import LeaseholdWire
import Prometheus
import Synchronization

/// Everything `GET /metrics` shows, assembled at scrape time from what the server already keeps.
///
/// Nothing here runs per call. Gauges and counters live in the server's ``PrometheusCollectorRegistry`` (shared
/// with anything else that records through swift-metrics in the process); each scrape sets the gauges from a
/// snapshot of the lock table and advances the counters by what the table, the store and the RPC layer counted
/// since the last scrape. The histograms are counted where their events happen (the lock table, the store's
/// writer, ``RPCMetrics``) as bucket counts, which swift-prometheus cannot import, so they are written in the
/// same text format after the registry's output.
final class ServerMetrics: Sendable {
    private struct Exported {
        var counters: [String: Double] = [:]
    }

    private let registry: PrometheusCollectorRegistry
    private let locks: LockService
    private let store: any Store
    private let rpc: RPCMetrics
    private let connections: @Sendable () -> Int
    private let leadership: (@Sendable () -> (isLeader: Bool, epoch: UInt64))?
    private let exported = Mutex(Exported())

    /// - Parameters:
    ///   - leadership: Whether this node is the active one, and its epoch; nil for a single node (1 and 0).
    init(
        registry: PrometheusCollectorRegistry,
        locks: LockService,
        store: any Store,
        rpc: RPCMetrics,
        connections: @escaping @Sendable () -> Int,
        leadership: (@Sendable () -> (isLeader: Bool, epoch: UInt64))?
    ) {
        self.registry = registry
        self.locks = locks
        self.store = store
        self.rpc = rpc
        self.connections = connections
        self.leadership = leadership
    }

    /// The Prometheus text exposition of every metric.
    func render() -> [UInt8] {
        self.exported.withLock { exported in
            let snapshot = self.locks.snapshot
            let commits = self.store.commitStatistics
            let process = ProcessStatistics.read()
            self.gauge("leasehold_sessions", "Live sessions.", snapshot.sessions)
            self.gauge("leasehold_locks_held", "Locks held.", snapshot.locksHeld)
            self.gauge("leasehold_waiters", "Acquire calls queued on a key.", snapshot.waiters)
            self.gauge(
                "leasehold_revision",
                "The current revision (the last fencing token).",
                Double(snapshot.revision)
            )
            self.gauge("leasehold_connections", "Open client connections.", self.connections())
            self.gauge("leasehold_watchers", "Open Watch streams.", snapshot.watchers)
            let (isLeader, epoch) = self.leadership?() ?? (true, 0)
            self.gauge("leasehold_leader", "1 on the node that serves (a single node always does).", isLeader ? 1 : 0)
            self.gauge(
                "leasehold_epoch",
                "Takeovers of the shared store (0 with the embedded SQLite store).",
                Double(epoch)
            )

            let statistics = snapshot.statistics
            self.counter("leasehold_grants_total", "Locks granted.", [], Double(statistics.grants), &exported)
            for cause in LockTable.ReleaseCause.allCases {
                self.counter(
                    "leasehold_releases_total",
                    "Locks ended, by cause.",
                    [("cause", cause.name)],
                    Double(statistics.releases(cause)),
                    &exported
                )
            }
            self.counter(
                "leasehold_session_expiries_total",
                "Sessions that expired (no keepalive within their TTL).",
                [],
                Double(statistics.sessionExpiries),
                &exported
            )
            self.counter(
                "leasehold_acquire_timeouts_total",
                "Queued Acquire calls whose wait ran out.",
                [],
                Double(statistics.acquireTimeouts),
                &exported
            )
            for reason in ConnectionRefusal.allCases {
                self.counter(
                    "leasehold_connections_refused_total",
                    "Connections the server refused or closed by one of its bounds, by reason.",
                    [("reason", reason.description)],
                    Double(self.rpc.refusals(reason)),
                    &exported
                )
            }
            for (m, method) in self.rpc.methods.enumerated() {
                for (c, code) in RPCMetrics.codes.enumerated() {
                    let value = self.rpc.calls(method: m, code: c)
                    guard value > 0 else { continue }
                    self.counter(
                        "leasehold_rpc_calls_total",
                        "RPC calls ended, by method and status code.",
                        [("method", method), ("code", code.description)],
                        Double(value),
                        &exported
                    )
                }
            }
            self.counter(
                "process_cpu_seconds_total",
                "User and system CPU time spent, in seconds.",
                [],
                process.cpuSeconds,
                &exported
            )
            self.gauge("process_resident_memory_bytes", "Resident memory size, in bytes.", process.residentBytes)
            self.gauge("process_virtual_memory_bytes", "Virtual memory size, in bytes.", process.virtualBytes)
            self.gauge("process_open_fds", "Open file descriptors.", process.openFileDescriptors)
            self.gauge(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds.",
                process.startTimeSeconds
            )

            var buffer: [UInt8] = []
            self.registry.emit(into: &buffer)
            var text = ""
            Self.histogram(
                &text,
                "leasehold_lock_wait_seconds",
                "Time from joining a key's queue to the grant.",
                statistics.waitSeconds
            )
            Self.histogram(
                &text,
                "leasehold_lock_hold_seconds",
                "Time from a grant to its end, by any cause.",
                statistics.holdSeconds
            )
            Self.histogram(
                &text,
                "leasehold_keepalive_margin_seconds",
                "Time a session still had left when its keepalive arrived.",
                statistics.keepAliveMarginSeconds
            )
            Self.histogram(
                &text,
                "leasehold_store_commit_seconds",
                "Duration of a group-commit transaction, sync included.",
                commits.commitSeconds
            )
            Self.histogram(
                &text,
                "leasehold_store_batch_size",
                "Batches (callers' changes) committed by one transaction.",
                commits.batchSizes
            )
            text += "# HELP leasehold_rpc_duration_seconds From a call's first frame read to its last frame written.\n"
            text += "# TYPE leasehold_rpc_duration_seconds histogram\n"
            for (m, method) in self.rpc.methods.enumerated() {
                let (counts, sum) = self.rpc.durations(method: m)
                guard counts.contains(where: { $0 > 0 }) else { continue }
                Self.series(
                    &text,
                    "leasehold_rpc_duration_seconds",
                    label: "method=\"\(method)\",",
                    bounds: RPCMetrics.durationBounds,
                    counts: counts,
                    sum: sum
                )
            }
            buffer.append(contentsOf: text.utf8)
            return buffer
        }
    }

    private func gauge(_ name: String, _ help: String, _ value: Int) { self.gauge(name, help, Double(value)) }

    private func gauge(_ name: String, _ help: String, _ value: Double) {
        self.registry.makeGauge(name: name, labels: [], help: help).set(value)
    }

    /// Advances a registry counter to `total`, a running total kept elsewhere.
    private func counter(
        _ name: String,
        _ help: String,
        _ labels: [(String, String)],
        _ total: Double,
        _ exported: inout Exported
    ) {
        let counter = self.registry.makeCounter(name: name, labels: labels, help: help)
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = total - exported.counters[key, default: 0]
        if delta > 0 { counter.increment(by: delta) }
        exported.counters[key] = max(total, exported.counters[key, default: 0])
    }

    private static func histogram(_ text: inout String, _ name: String, _ help: String, _ histogram: BucketHistogram) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        Self.series(
            &text,
            name,
            label: "",
            bounds: histogram.upperBounds,
            counts: histogram.bucketCounts,
            sum: histogram.sum
        )
    }

    private static func series(
        _ text: inout String,
        _ name: String,
        label: String,
        bounds: [Double],
        counts: [UInt64],
        sum: Double
    ) {
        var total: UInt64 = 0
        for (index, count) in counts.enumerated() {
            total += count
            let le = index < bounds.count ? Self.format(bounds[index]) : "+Inf"
            text += "\(name)_bucket{\(label)le=\"\(le)\"} \(total)\n"
        }
        let bare = label.isEmpty ? "" : "{\(label.dropLast())}"
        text += "\(name)_sum\(bare) \(Self.format(sum))\n\(name)_count\(bare) \(total)\n"
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) + ".0" : String(value)
    }
}
