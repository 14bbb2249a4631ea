import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire
import Synchronization

/// A session of the load generator, with the connection it is bound to (session calls must use that connection).
struct BenchSession: Sendable {
    var id: SessionID
    var connection: RPCConnection
    /// The send time of the `OpenSession` call that created it, on ``monotonicNanos()``.
    var openedAt: UInt64
}

/// How long the load generator waits for an answer to a call that should be quick; the same kind of deadline the
/// Swift client sends with every call, so that the server pays for deadlines as it does in production.
let callTimeout = Duration.seconds(10)

/// Counts failed calls by their code, keeping one message of each for the report.
struct ErrorTally: Sendable {
    private(set) var counts: [String: Int] = [:]
    private(set) var examples: [String: String] = [:]

    mutating func add(_ error: any Error) {
        let code = (error as? LeaseholdError).map { "\($0.code)" } ?? String(describing: type(of: error))
        self.counts[code, default: 0] += 1
        if self.examples[code] == nil { self.examples[code] = "\(error)" }
    }

    mutating func merge(_ other: ErrorTally) {
        for (code, count) in other.counts { self.counts[code, default: 0] += count }
        for (code, example) in other.examples where self.examples[code] == nil { self.examples[code] = example }
    }

    var total: Int { self.counts.values.reduce(0, +) }

    /// One note per code, for the report.
    var notes: [String] {
        self.counts.keys.sorted().map { "\(self.counts[$0]!) calls failed with \($0), e.g. \(self.examples[$0]!)" }
    }
}

/// Runs `body` for each index in `indices` with at most `limit` calls in flight, and returns the results in order.
func concurrentMap<T: Sendable>(
    _ indices: Range<Int>,
    limit: Int,
    _ body: @escaping @Sendable (Int) async throws -> T
) async throws -> [T] {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
        var results = [T?](repeating: nil, count: indices.count)
        var next = indices.lowerBound
        while next < indices.upperBound, next - indices.lowerBound < limit {
            let index = next
            group.addTask { (index, try await body(index)) }
            next += 1
        }
        while let (index, result) = try await group.next() {
            results[index - indices.lowerBound] = result
            if next < indices.upperBound {
                let index = next
                group.addTask { (index, try await body(index)) }
                next += 1
            }
        }
        return results.map { $0! }
    }
}

/// Opens `count` sessions spread round-robin over `connections`, with up to `inFlight` opens at once.
func openSessions(
    count: Int,
    over connections: [RPCConnection],
    ttl: Duration,
    name: String,
    inFlight: Int = 256
) async throws -> [BenchSession] {
    try await concurrentMap(0..<count, limit: inFlight) { index in
        let connection = connections[index % connections.count]
        let sent = monotonicNanos()
        let info: SessionInfo = try await connection.unary(
            LeaseholdMethod.openSession,
            OpenSessionRequest(ttl: ttl, name: "\(name)-\(index)"),
            timeout: callTimeout
        )
        return BenchSession(id: info.sessionID, connection: connection, openedAt: sent)
    }
}

/// Closes sessions, ignoring failures: cleanup after the measured window.
func closeSessions(_ sessions: [BenchSession], inFlight: Int = 256) async {
    _ = try? await concurrentMap(0..<sessions.count, limit: inFlight) { index in
        let session = sessions[index]
        let _: CloseSessionResponse? = try? await session.connection.unary(
            LeaseholdMethod.closeSession,
            CloseSessionRequest(sessionID: session.id),
            timeout: callTimeout
        )
    }
}

/// Keeps the load sessions of a throughput workload alive in the background, every TTL/3 as the Swift client does.
func keepAliveInBackground(_ sessions: [BenchSession], ttl: Duration) -> Task<Void, Never> {
    Task {
        while !Task.isCancelled {
            try? await Task.sleep(for: ttl / 3)
            if Task.isCancelled { return }
            _ = try? await concurrentMap(0..<sessions.count, limit: 64) { index in
                let session = sessions[index]
                let _: KeepAliveResponse? = try? await session.connection.unary(
                    LeaseholdMethod.keepAlive,
                    KeepAliveRequest(sessionID: session.id),
                    timeout: callTimeout
                )
            }
        }
    }
}

/// The TTL of the sessions of throughput workloads: long enough that a background keepalive every TTL/3 suffices.
let loadSessionTTL = Duration.seconds(60)
