import DequeModule

/// The FIFO queue of one key: waiter ids in grant order.
///
/// Removing a waiter from the middle (timeout, cancel, its session dies) only marks it dead: the table drops it
/// from its waiter map and calls ``removed()``; dead ids are trimmed from both ends at once and the deque is
/// compacted when they outnumber the live ones, so every removal is amortised O(1). Whether an id is live is
/// decided by the caller's waiter map, passed in as `isLive`.
struct WaitQueue: Sendable {
    private var entries: Deque<WaiterID> = []
    /// The number of live waiters.
    private(set) var liveCount = 0

    var isEmpty: Bool { self.liveCount == 0 }

    /// Appends a live waiter.
    mutating func append(_ waiter: WaiterID) {
        self.entries.append(waiter)
        self.liveCount += 1
    }

    /// Puts `new` where `old` stands; `old` must be live and is dead afterwards.
    mutating func replace(_ old: WaiterID, with new: WaiterID) {
        guard let index = self.entries.firstIndex(of: old) else {
            preconditionFailure("waiter \(old) is live but not in its key's queue")
        }
        self.entries[index] = new
    }

    /// Notes that one live waiter has left the queue (its id is no longer live for `isLive`).
    mutating func removed(isLive: (WaiterID) -> Bool) {
        precondition(self.liveCount > 0, "a waiter left an empty queue")
        self.liveCount -= 1
        self.trim(isLive: isLive)
        if self.entries.count > 2 * self.liveCount + 32 {
            self.entries = Deque(self.entries.filter(isLive))
        }
        precondition(self.liveCount > 0 || self.entries.isEmpty, "queue lost count of its waiters")
    }

    /// The live waiter at the head, if any.
    func first(isLive: (WaiterID) -> Bool) -> WaiterID? {
        self.entries.first(where: isLive)
    }

    /// Live waiters in grant order.
    func live(isLive: (WaiterID) -> Bool) -> [WaiterID] {
        self.entries.filter(isLive)
    }

    private mutating func trim(isLive: (WaiterID) -> Bool) {
        while let head = self.entries.first, !isLive(head) { self.entries.removeFirst() }
        while let tail = self.entries.last, !isLive(tail) { self.entries.removeLast() }
    }
}
