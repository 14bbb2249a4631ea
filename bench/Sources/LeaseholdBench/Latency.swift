import Histogram

/// Latencies in nanoseconds, from 100 ns to 10 minutes at three significant digits.
typealias LatencyHistogram = Histogram<UInt64>

func makeLatencyHistogram() -> LatencyHistogram {
    LatencyHistogram(
        lowestDiscernibleValue: 100,
        highestTrackableValue: 600_000_000_000,
        numberOfSignificantValueDigits: .three
    )
}

extension Histogram where Count == UInt64 {
    /// Records `nanoseconds`, clamped into the trackable range.
    @inline(__always)
    mutating func recordClamped(_ nanoseconds: UInt64) {
        self.record(Swift.min(Swift.max(nanoseconds, 100), self.highestTrackableValue))
    }

    /// This histogram with HdrHistogram's coordinated-omission correction applied afterwards: every value above
    /// `expectedInterval` also counts the values that calls issued every `expectedInterval` during it would have seen
    /// (`recordCorrectedValue(_:count:expectedInterval:)`, as HdrHistogram's `copyCorrectedForCoordinatedOmission`).
    func corrected(expectedInterval: UInt64) -> Self {
        var corrected = makeLatencyHistogram()
        guard expectedInterval > 0 else {
            corrected.add(self)
            return corrected
        }
        for bucket in self.recordedValues() {
            corrected.recordCorrectedValue(bucket.value, count: bucket.count, expectedInterval: expectedInterval)
        }
        return corrected
    }
}

/// Percentiles of one latency histogram, in microseconds.
struct LatencySummary: Codable, Sendable {
    var count: UInt64
    var p50Micros: Double
    var p90Micros: Double
    var p99Micros: Double
    var p999Micros: Double
    var maxMicros: Double
    var meanMicros: Double

    init(_ histogram: LatencyHistogram) {
        func micros(_ nanos: UInt64) -> Double { (Double(nanos) / 1_000).rounded(toPlaces: 1) }
        self.count = histogram.totalCount
        guard histogram.totalCount > 0 else {
            (self.p50Micros, self.p90Micros, self.p99Micros, self.p999Micros, self.maxMicros, self.meanMicros) =
                (0, 0, 0, 0, 0, 0)
            return
        }
        self.p50Micros = micros(histogram.valueAtPercentile(50))
        self.p90Micros = micros(histogram.valueAtPercentile(90))
        self.p99Micros = micros(histogram.valueAtPercentile(99))
        self.p999Micros = micros(histogram.valueAtPercentile(99.9))
        self.maxMicros = micros(histogram.max)
        self.meanMicros = (histogram.mean / 1_000).rounded(toPlaces: 1)
    }
}

/// Latencies that may be negative (one event seen before the call that caused it answered), in nanoseconds.
struct SignedSamples {
    var values: [Int64] = []

    mutating func append(_ value: Int64) { self.values.append(value) }

    /// Nearest-rank percentiles in microseconds.
    func summary() -> [String: Double] {
        guard !self.values.isEmpty else { return ["count": 0] }
        let sorted = self.values.sorted()
        func at(_ percentile: Double) -> Double {
            let rank = Swift.max(
                0,
                Swift.min(sorted.count - 1, Int((percentile / 100 * Double(sorted.count)).rounded(.up)) - 1)
            )
            return (Double(sorted[rank]) / 1_000).rounded(toPlaces: 1)
        }
        return [
            "count": Double(sorted.count), "p50Micros": at(50), "p99Micros": at(99), "minMicros": at(0),
            "maxMicros": at(100),
        ]
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}
