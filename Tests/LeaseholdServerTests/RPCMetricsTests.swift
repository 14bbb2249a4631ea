import LeaseholdWire
import Testing

@testable import LeaseholdServer

@Suite("RPC call counters, by method index and code")
struct RPCMetricsTests {
    @Test("a call counts in its method's and code's slot; other indices count as other, other codes as UNKNOWN")
    func slots() {
        let metrics = RPCMetrics(methodNames: ["s.S/A", "s.S/B"])
        #expect(metrics.methods == ["A", "B", "other"])
        metrics.callEnded(method: 1, code: .lockHeld, duration: .milliseconds(3))
        metrics.callEnded(method: 2, code: .ok, duration: .zero)  // what the server tells for any other method
        metrics.callEnded(method: 9, code: .ok, duration: .zero)
        metrics.callEnded(method: -1, code: .ok, duration: .zero)
        for raw: Int32 in [6, 15, 99, 107, 500, -1] {  // numbers between, past and below the known codes
            metrics.callEnded(method: 0, code: LeaseholdError.Code(rawValue: raw), duration: .zero)
        }
        metrics.callEnded(method: 0, code: .unsupportedProtocol, duration: .zero)

        func count(_ method: Int, _ code: LeaseholdError.Code) -> Int {
            metrics.calls(method: method, code: RPCMetrics.codes.firstIndex(of: code)!)
        }
        #expect(count(1, .lockHeld) == 1)
        #expect(count(2, .ok) == 3)
        #expect(count(0, .unknown) == 6)
        #expect(count(0, .unsupportedProtocol) == 1)
        let total = (0..<metrics.methods.count).flatMap { m in
            RPCMetrics.codes.indices.map { metrics.calls(method: m, code: $0) }
        }.reduce(0, +)
        #expect(total == 11)

        let (buckets, sum) = metrics.durations(method: 1)
        #expect(sum == 0.003)
        let bucket = RPCMetrics.durationBounds.firstIndex(of: 0.005)!
        #expect(buckets[bucket] == 1)
        #expect(buckets.reduce(0, +) == 1)
        #expect(metrics.durations(method: 2).bucketCounts.reduce(0, +) == 3)
    }
}
