import LeaseholdCore
import LeaseholdWire

/// What `leasehold top` knows: the held locks (from `List`), each key's queue (from `Describe`), the events of its
/// watch stream, and the sessions closest to expiry (from the metrics endpoint's `GET /sessions`, when given). A
/// value; ``TopScreen/render(_:now:width:height:)`` draws it.
struct TopState: Sendable {
    /// The queue of one key, as `Describe` reported it.
    struct Queue: Hashable, Sendable {
        var waiters: Int
        /// When the longest-waiting caller joined the queue.
        var oldest: WallTime?
        /// The owner of the queue's head.
        var nextOwner: String?
    }

    /// A session close to expiry, as the metrics endpoint's `GET /sessions` reported it.
    struct Expiring: Hashable, Sendable {
        var sessionID: SessionID
        var owner: String
        var name: String
        var ttl: Duration
        /// Time the session had left when the server answered.
        var expiresIn: Duration
        /// The keys it holds.
        var locks: [String]
    }

    /// Where the sessions close to expiry come from.
    enum ExpiringSource: Hashable, Sendable {
        /// No metrics endpoint was given: the protocol has no way to ask for other sessions' time left.
        case notAsked
        /// Read from the metrics endpoint at this address.
        case metrics(String)
    }

    var server: String
    var prefix: String
    var expiringSource = ExpiringSource.notAsked
    /// The sessions with the least time left, soonest first (only with ``ExpiringSource/metrics(_:)``).
    var expiring: [Expiring] = []
    var revision: UInt64 = 0
    var locks: [LockInfo] = []
    var queues: [String: Queue] = [:]
    /// Events seen since the last ``tick(elapsed:)``, by kind.
    var pending: [Event.Kind: Int] = [:]
    /// Events per second over the last tick, by kind.
    var rates: [Event.Kind: Double] = [:]
    /// The latest expiries and force-releases, newest first.
    var recentLosses: [Event] = []
    /// Why the last refresh failed, if it did.
    var problem: String?

    static let recentLossLimit = 5

    init(server: String, prefix: String) {
        self.server = server
        self.prefix = prefix
    }

    /// Counts one event of the watch stream.
    mutating func apply(_ event: Event) {
        self.pending[event.kind, default: 0] += 1
        self.revision = max(self.revision, event.revision)
        if event.kind == .expired || event.kind == .forceReleased {
            self.recentLosses.insert(event, at: 0)
            if self.recentLosses.count > Self.recentLossLimit { self.recentLosses.removeLast() }
        }
    }

    /// Turns the events counted since the last tick into rates.
    mutating func tick(elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard seconds > 0 else { return }
        self.rates = [:]
        for kind in Event.Kind.allCases { self.rates[kind] = Double(self.pending[kind, default: 0]) / seconds }
        self.pending = [:]
    }
}

/// Draws a ``TopState`` as lines of text: a header, the most contended keys, the longest holds, the sessions
/// closest to expiry, and the latest expiries and force-releases. Pure: the same state, time and size give the same
/// lines.
enum TopScreen {
    /// The screen's lines, each at most `width` characters, at most `height` lines when given.
    static func render(_ state: TopState, now: WallTime, width: Int, height: Int?) -> [String] {
        var lines: [String] = []
        let rate = { (kind: Event.Kind) in Self.rate(state.rates[kind, default: 0]) }
        lines.append(
            "leasehold top  \(state.server)  prefix \(state.prefix.isEmpty ? "(all)" : state.prefix)  "
                + "rev \(state.revision)  at \(now.iso8601)"
        )
        let waiting = state.queues.values.reduce(0) { $0 + $1.waiters }
        lines.append(
            "locks \(state.locks.count)  waiters \(waiting)  grants/s \(rate(.acquired))  releases/s "
                + "\(rate(.released))  expiries/s \(rate(.expired))  force-releases/s \(rate(.forceReleased))"
        )
        if let problem = state.problem { lines.append("! \(problem)") }
        let holders = Dictionary(state.locks.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })

        lines.append("")
        lines.append("MOST CONTENDED")
        let contended = state.queues.filter { $0.value.waiters > 0 }.sorted {
            ($0.value.waiters, $1.value.oldest ?? now, $1.key) > ($1.value.waiters, $0.value.oldest ?? now, $0.key)
        }
        if contended.isEmpty {
            lines.append("  (no key has waiters)")
        } else {
            var table = TextTable(header: ["KEY", "WAITERS", "OLDEST WAIT", "NEXT", "HOLDER", "OWNER", "TOKEN"])
            for (key, queue) in contended.prefix(10) {
                let holder = holders[key]
                table.append([
                    key, String(queue.waiters), queue.oldest.map { Self.age(from: $0, to: now) } ?? "-",
                    queue.nextOwner ?? "-", holder.map { "session \($0.sessionID)" } ?? "(free)",
                    holder?.owner ?? "-", holder.map { String($0.fencingToken) } ?? "-",
                ])
            }
            lines.append(contentsOf: table.lines(indent: "  "))
        }

        lines.append("")
        lines.append("LONGEST HELD")
        if state.locks.isEmpty {
            lines.append("  (no lock is held)")
        } else {
            let longest = state.locks.sorted { ($0.acquiredAt, $0.key) < ($1.acquiredAt, $1.key) }
            var table = TextTable(header: ["KEY", "HELD FOR", "SESSION", "OWNER", "TOKEN", "TTL"])
            for lock in longest.prefix(10) {
                table.append([
                    lock.key, Self.age(from: lock.acquiredAt, to: now), "\(lock.sessionID)", lock.owner,
                    String(lock.fencingToken), lock.sessionTTL.shortText,
                ])
            }
            lines.append(contentsOf: table.lines(indent: "  "))
        }

        lines.append("")
        lines.append("SESSIONS CLOSE TO EXPIRY")
        switch state.expiringSource {
        case .notAsked:
            lines.append("  (give --metrics-address, the server's --metrics-listen, to see them)")
        case .metrics:
            if state.expiring.isEmpty {
                lines.append("  (no live session)")
            } else {
                var table = TextTable(header: ["SESSION", "OWNER", "NAME", "EXPIRES IN", "TTL", "LOCKS"])
                for session in state.expiring.prefix(Self.expiringRows) {
                    let keys = session.locks.prefix(3).joined(separator: " ")
                    table.append([
                        "\(session.sessionID)", session.owner, session.name.isEmpty ? "-" : session.name,
                        Self.remaining(session.expiresIn), session.ttl.shortText,
                        session.locks.isEmpty
                            ? "-" : session.locks.count > 3 ? "\(keys) (+\(session.locks.count - 3))" : keys,
                    ])
                }
                lines.append(contentsOf: table.lines(indent: "  "))
            }
        }

        lines.append("")
        lines.append("LATEST EXPIRIES AND FORCE-RELEASES")
        if state.recentLosses.isEmpty {
            lines.append("  (none since top started)")
        } else {
            var table = TextTable(header: ["AGO", "EVENT", "KEY", "SESSION", "OWNER", "TOKEN"])
            for event in state.recentLosses {
                table.append([
                    Self.age(from: event.at, to: now), event.kind.name, event.key, "\(event.sessionID)",
                    event.owner, String(event.fencingToken),
                ])
            }
            lines.append(contentsOf: table.lines(indent: "  "))
        }

        let clipped = lines.map { $0.count > width ? String($0.prefix(max(width - 1, 0))) + "…" : $0 }
        guard let height, clipped.count > height else { return clipped }
        return Array(clipped.prefix(height))
    }

    /// Rows of the sessions close to expiry.
    static let expiringRows = 10

    /// Time left: `0ms`, `850ms`, `4.2s`, `1m30s`.
    static func remaining(_ duration: Duration) -> String {
        let milliseconds = UInt64(max(duration.wholeMilliseconds, 0))
        return Self.age(from: WallTime(millisecondsSince1970: 0), to: WallTime(millisecondsSince1970: milliseconds))
    }

    /// `0.0`, `12.5`, `1200`.
    static func rate(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String(Double(Int((value * 10).rounded())) / 10)
    }

    /// How long ago `start` was: `850ms`, `12.3s`, `4m05s`, `2h07m`.
    static func age(from start: WallTime, to now: WallTime) -> String {
        let milliseconds =
            now.millisecondsSince1970 > start.millisecondsSince1970
            ? now.millisecondsSince1970 - start.millisecondsSince1970 : 0
        if milliseconds < 1_000 { return "\(milliseconds)ms" }
        if milliseconds < 60_000 { return "\(milliseconds / 1_000).\(milliseconds % 1_000 / 100)s" }
        let seconds = milliseconds / 1_000
        if seconds < 3_600 { return "\(seconds / 60)m" + Self.twoDigits(seconds % 60) + "s" }
        return "\(seconds / 3_600)h" + Self.twoDigits(seconds % 3_600 / 60) + "m"
    }

    private static func twoDigits(_ value: UInt64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
