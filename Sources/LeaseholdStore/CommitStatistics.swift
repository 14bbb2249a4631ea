public import LeaseholdCore

/// What every ``Store`` counts of its group commits, for `leasehold_store_commit_seconds` and
/// `leasehold_store_batch_size`: how long each transaction took and how many callers' batches it carried.
///
/// The store's writer records one transaction at a time (it already serialises them), so recording costs two
/// histogram updates per commit, not per call.
///
/// ```swift
/// var commits = CommitStatistics()
/// commits.record(took: .microseconds(800), batches: 12)
/// commits.batchSizes.sum  // 12
/// ```
public struct CommitStatistics: Hashable, Sendable {
    /// Bounds of ``commitSeconds``: a tenth of a millisecond (page cache) up to seconds (a struggling disk).
    public static let commitBounds: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
    ]
    /// Bounds of ``batchSizes``.
    public static let batchSizeBounds: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

    /// How long each group-commit transaction took, sync included, in seconds (failed ones too).
    public private(set) var commitSeconds = BucketHistogram(upperBounds: CommitStatistics.commitBounds)
    /// How many batches with mutations each group-commit transaction carried: how many callers one sync served.
    public private(set) var batchSizes = BucketHistogram(upperBounds: CommitStatistics.batchSizeBounds)

    /// None recorded.
    public init() {}

    /// Records one group-commit transaction, whether it committed or failed.
    /// - Parameters:
    ///   - took: From the start of the transaction to its end, sync included.
    ///   - batches: The batches with mutations it carried (barriers are not counted).
    public mutating func record(took: Duration, batches: Int) {
        self.commitSeconds.record(took)
        self.batchSizes.record(Double(batches))
    }
}
