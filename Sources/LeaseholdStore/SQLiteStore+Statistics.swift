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
        /// Each group-commit transaction's duration and the batches it carried, failed ones too.
        public var commits = CommitStatistics()

        /// All zero.
        public init() {}
    }
}
