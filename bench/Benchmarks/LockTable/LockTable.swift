// The pure state machine's share of each RPC: what `LockService` does under its mutex, without I/O.
import Benchmark
import LeaseholdCore

let tableMetrics: [BenchmarkMetric] = [.instructions, .mallocCountTotal, .wallClock]

/// A table with `count` sessions of a long TTL, opened at time zero.
func makeTable(sessions count: Int) -> (LockTable, [SessionID]) {
    var table = LockTable()
    var ids: [SessionID] = []
    ids.reserveCapacity(count)
    for index in 0..<count {
        let (outcome, _) = table.openSession(
            ttl: .seconds(300),
            secretHash: [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 32),
            owner: "bench",
            name: "client-\(index)",
            now: .zero
        )
        guard case .opened(let info) = outcome else { fatalError("cannot open session \(index): \(outcome)") }
        ids.append(info.id)
    }
    return (table, ids)
}

/// Time moves by a microsecond per operation, so that 100 million operations stay inside the 300 s TTL.
struct TickingClock {
    private var ticks: Int64 = 0
    mutating func next() -> Instant {
        self.ticks += 1
        return Instant.zero + .microseconds(self.ticks)
    }
}

/// State that lives across a benchmark's iterations, built on its first iteration (not when the suite registers).
final class Fixture<State> {
    private let make: () -> State
    private var state: State?
    init(_ make: @escaping () -> State) { self.make = make }
    func with<T>(_ body: (inout State) -> T) -> T {
        // Moved out, not copied: a copy would make the table's storage copy on its first write.
        var state = self.state.take() ?? self.make()
        defer { self.state = state }
        return body(&state)
    }
}

struct Uncontended {
    var table: LockTable
    var sessions: [SessionID]
    var keys: [String]
    var clock = TickingClock()
    var slot = 0
}

struct HandOver {
    var table: LockTable
    var key: String
    var holder: LockInfo
    var clock: TickingClock
}

struct KeepAlives {
    var table: LockTable
    var sessions: [SessionID]
    var clock = TickingClock()
    var slot = 0
}

let benchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(metrics: tableMetrics, scalingFactor: .kilo)

    // What `uncontended` costs the table per pair: 64 sessions, each on its own key.
    let uncontended = Fixture { () -> Uncontended in
        let (table, sessions) = makeTable(sessions: 64)
        return Uncontended(table: table, sessions: sessions, keys: sessions.indices.map { "bench/uncontended/\($0)" })
    }
    Benchmark("acquire + release, own key (64 sessions)", configuration: configuration) { benchmark in
        uncontended.with { state in
            for _ in benchmark.scaledIterations {
                let slot = state.slot
                state.slot = (slot + 1) % state.sessions.count
                let (acquired, acquireEffects) = state.table.acquire(
                    key: state.keys[slot],
                    session: state.sessions[slot],
                    wait: .zero,
                    now: state.clock.next()
                )
                guard case .granted(let lock) = acquired else { fatalError("not granted: \(acquired)") }
                let (released, releaseEffects) = state.table.release(
                    key: state.keys[slot],
                    session: state.sessions[slot],
                    fencingToken: lock.fencingToken,
                    now: state.clock.next()
                )
                blackHole((released, acquireEffects, releaseEffects))
            }
        }
    }

    // What `contended --keys 1` costs the table per grant: a release that hands the key to the head of a queue of
    // 63 waiters, and the releasing session's new Acquire that joins the tail.
    let handOver = Fixture { () -> HandOver in
        var (table, sessions) = makeTable(sessions: 64)
        let key = "bench/contended/0"
        var clock = TickingClock()
        var holder: LockInfo?
        for session in sessions {
            let (outcome, _) = table.acquire(key: key, session: session, wait: .seconds(300), now: clock.next())
            if case .granted(let lock) = outcome { holder = lock }
        }
        guard let holder else { fatalError("nobody was granted") }
        return HandOver(table: table, key: key, holder: holder, clock: clock)
    }
    Benchmark("release with hand-over + re-queue (64 sessions, 1 key)", configuration: configuration) { benchmark in
        handOver.with { state in
            for _ in benchmark.scaledIterations {
                let (_, effects) = state.table.release(
                    key: state.key,
                    session: state.holder.sessionID,
                    fencingToken: state.holder.fencingToken,
                    now: state.clock.next()
                )
                var next: LockInfo?
                for case .grant(_, let lock) in effects { next = lock }
                guard let next else { fatalError("no hand-over") }
                let (requeued, _) = state.table.acquire(
                    key: state.key,
                    session: state.holder.sessionID,
                    wait: .seconds(300),
                    now: state.clock.next()
                )
                blackHole(requeued)
                state.holder = next
            }
        }
    }

    // What `ping` and `sessions` cost the table per call, among 100,000 sessions.
    let keepAlives = Fixture { () -> KeepAlives in
        let (table, sessions) = makeTable(sessions: 100_000)
        return KeepAlives(table: table, sessions: sessions)
    }
    Benchmark("keepAlive (100,000 sessions)", configuration: configuration) { benchmark in
        keepAlives.with { state in
            for _ in benchmark.scaledIterations {
                let slot = state.slot
                state.slot = (slot + 1) % state.sessions.count
                blackHole(state.table.keepAlive(state.sessions[slot], now: state.clock.next()))
            }
        }
    }
}
