public import LeaseholdCore

extension SQLiteStore {
    /// Counters of the writer's work, for tests and diagnostics.
    ///
    /// Counters are updated before the completions of the work they count run.
    public struct Statistics: Hashable, Sendable {
        /// Group-commit transactions that committed.
        public var transactions: Int = 0
        /// Batches that completed successfully, barriers included.
        public var batches: Int = 0
        /// Group-commit transactions that failed and were rolled back.
        public var failedTransactions: Int = 0
        /// Batches with mutations that completed with an error because their transaction failed.
        public var failedBatches: Int = 0
        /// Retention transactions (each prunes at most ``Configuration/retentionChunkSize`` events).
        public var retentionTransactions: Int = 0
        /// Events pruned by retention.
        public var prunedEvents: Int = 0
        /// Bounds of ``commitSeconds``: a tenth of a millisecond (page cache) up to seconds (a struggling disk).
        public static let commitBounds: [Double] = [
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
        ]
        /// Bounds of ``batchSizes``.
        public static let batchSizeBounds: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
        /// How long each group-commit transaction took, sync included, in seconds (failed ones too).
        public var commitSeconds = BucketHistogram(upperBounds: Statistics.commitBounds)
        /// How many batches with mutations each group-commit transaction carried: how many callers one sync served.
        public var batchSizes = BucketHistogram(upperBounds: Statistics.batchSizeBounds)

        /// All zero.
        public init() {}
    }
}
