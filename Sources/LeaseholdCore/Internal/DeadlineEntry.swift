/// An entry of the lock table's deadline heaps (swift-collections' `Heap`): something that is due at `deadline`.
///
/// The table never updates an entry in place: it inserts a new one and skips stale ones when they surface (lazy
/// invalidation), so ``LockTable/nextDeadline`` is O(1) and ``LockTable/expire(now:)`` pays O(log n) per due entry.
/// Ties break on `id`, which keeps ``LockTable/expire(now:)`` deterministic.
struct DeadlineEntry<ID: Comparable>: Comparable {
    var deadline: Instant
    var id: ID

    static func < (lhs: Self, rhs: Self) -> Bool {
        if lhs.deadline != rhs.deadline { return lhs.deadline < rhs.deadline }
        return lhs.id < rhs.id
    }

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.deadline == rhs.deadline && lhs.id == rhs.id
    }
}

extension DeadlineEntry: Sendable where ID: Sendable {}
