/// Counts of observations by bucket, for Prometheus-style histograms kept inside a state machine.
///
/// Recording is a binary search and two additions into storage allocated once at creation: an owner that already
/// serialises its state (the lock table under its mutex, the store's writer) can record on every event at no
/// extra cost, and metrics read a copy at scrape time.
///
/// ```swift
/// var waits = BucketHistogram(upperBounds: [0.001, 0.01, 0.1, 1])
/// waits.record(0.004)
/// waits.cumulativeCounts  // [0, 1, 1, 1], and count 1
/// ```
public struct BucketHistogram: Hashable, Sendable {
    /// The inclusive upper bound of each bucket, ascending; an implicit last bucket holds everything above.
    public let upperBounds: [Double]
    /// Observations per bucket (not cumulative); one more entry than ``upperBounds`` (the `+Inf` bucket).
    public private(set) var bucketCounts: [UInt64]
    /// The sum of every observation.
    public private(set) var sum: Double = 0
    /// How many observations were recorded.
    public private(set) var count: UInt64 = 0

    /// Creates an empty histogram.
    /// - Parameter upperBounds: Bucket bounds, strictly ascending.
    public init(upperBounds: [Double]) {
        precondition(zip(upperBounds, upperBounds.dropFirst()).allSatisfy { $0 < $1 }, "bounds must ascend")
        self.upperBounds = upperBounds
        self.bucketCounts = Array(repeating: 0, count: upperBounds.count + 1)
    }

    /// Counts one observation in the first bucket whose bound is at least `value`.
    /// - Parameter value: The observation, in the histogram's unit.
    public mutating func record(_ value: Double) {
        var low = 0
        var high = self.upperBounds.count
        while low < high {
            let middle = (low + high) / 2
            if self.upperBounds[middle] < value { low = middle + 1 } else { high = middle }
        }
        self.bucketCounts[low] += 1
        self.sum += value
        self.count += 1
    }

    /// Counts one duration, in seconds.
    /// - Parameter duration: The observation.
    public mutating func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.record(Double(seconds) + Double(attoseconds) / 1e18)
    }

    /// Observations at or below each bound, as Prometheus' `le` buckets list them; the last entry is ``count``.
    public var cumulativeCounts: [UInt64] {
        var total: UInt64 = 0
        return self.bucketCounts.map { count in
            total += count
            return total
        }
    }
}
