import HeapModule

/// The keepalive schedule of one connection: which session is due next.
struct DeadlineHeap {
    /// One session's next keepalive. Ordered by due time, then by index, so that ties pop deterministically.
    struct Entry: Comparable {
        var due: UInt64
        var item: Int
        static func < (lhs: Entry, rhs: Entry) -> Bool { (lhs.due, lhs.item) < (rhs.due, rhs.item) }
    }

    private var entries = Heap<Entry>()

    var isEmpty: Bool { self.entries.isEmpty }
    var count: Int { self.entries.count }
    var first: Entry? { self.entries.min }

    mutating func push(due: UInt64, item: Int) { self.entries.insert(Entry(due: due, item: item)) }

    mutating func popFirst() -> Entry? { self.entries.popMin() }
}
