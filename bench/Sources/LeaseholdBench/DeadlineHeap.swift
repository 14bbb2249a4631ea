/// A binary min-heap of (due time, item) pairs: the keepalive schedule of one connection.
struct DeadlineHeap {
    private var entries: [(due: UInt64, item: Int)] = []

    var isEmpty: Bool { self.entries.isEmpty }
    var count: Int { self.entries.count }
    var first: (due: UInt64, item: Int)? { self.entries.first }

    mutating func push(due: UInt64, item: Int) {
        self.entries.append((due, item))
        var child = self.entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard self.entries[child].due < self.entries[parent].due else { break }
            self.entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popFirst() -> (due: UInt64, item: Int)? {
        guard !self.entries.isEmpty else { return nil }
        self.entries.swapAt(0, self.entries.count - 1)
        let first = self.entries.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < self.entries.count, self.entries[left].due < self.entries[smallest].due { smallest = left }
            if right < self.entries.count, self.entries[right].due < self.entries[smallest].due { smallest = right }
            guard smallest != parent else { break }
            self.entries.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}
