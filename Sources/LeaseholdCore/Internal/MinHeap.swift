/// A binary min-heap over an array.
///
/// The lock table keeps its deadlines here so that ``LockTable/nextDeadline`` is O(1) and ``LockTable/expire(now:)``
/// pays O(log n) per due entry instead of scanning every session. Entries are never updated in place: the table
/// pushes a new entry and skips stale ones when they surface (lazy invalidation).
struct MinHeap<Element: Comparable> {
    private var storage: [Element]

    /// Creates an empty heap.
    init() {
        self.storage = []
    }

    /// Creates a heap holding `elements`, in O(n).
    init(_ elements: some Sequence<Element>) {
        self.storage = Array(elements)
        var index = self.storage.count / 2
        while index > 0 {
            index -= 1
            self.siftDown(from: index)
        }
    }

    /// The number of entries, stale ones included.
    var count: Int { self.storage.count }

    /// The smallest entry, if any.
    var min: Element? { self.storage.first }

    /// Adds an entry in O(log n).
    mutating func push(_ element: Element) {
        self.storage.append(element)
        self.siftUp(from: self.storage.count - 1)
    }

    /// Removes and returns the smallest entry in O(log n).
    @discardableResult
    mutating func popMin() -> Element? {
        guard let last = self.storage.popLast() else { return nil }
        guard !self.storage.isEmpty else { return last }
        let first = self.storage[0]
        self.storage[0] = last
        self.siftDown(from: 0)
        return first
    }

    private mutating func siftUp(from start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard self.storage[child] < self.storage[parent] else { return }
            self.storage.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        let count = self.storage.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            let right = left + 1
            var smallest = left
            if right < count, self.storage[right] < self.storage[left] { smallest = right }
            guard self.storage[smallest] < self.storage[parent] else { return }
            self.storage.swapAt(smallest, parent)
            parent = smallest
        }
    }
}

/// A heap entry: something that is due at `deadline`. Ties break on `id`, which keeps ``LockTable/expire(now:)``
/// deterministic.
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

extension MinHeap: Sendable where Element: Sendable {}
extension DeadlineEntry: Sendable where ID: Sendable {}
