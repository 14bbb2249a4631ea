/// Wing and Gong's search for a linearization, with Lowe's memoisation as Porcupine implements it.
///
/// Operations become call and return entries in one list ordered by time (calls first at equal times, so that
/// touching intervals count as concurrent). The search walks the list: at a call entry it tries to linearize that
/// operation now (the model must accept it), removing both its entries from the list; at a return entry it has
/// failed to linearize that operation before its response, so it backtracks to the last choice and tries the next
/// call instead. A (linearized set, model states) pair that was already explored is not explored again.
///
/// The model may be nondeterministic (a lost operation did or did not take effect): the search carries the set of
/// all states the model can be in (Porcupine's power-set construction), so that every choice is one list entry.
struct LinearizationSearch<State: Hashable> {
    /// One operation of the history: its interval and how it changes a state.
    struct Operation {
        var invoked: Duration
        /// nil: no response bound, the operation may be linearized at any time after its invocation.
        var returned: Duration?
    }

    enum Verdict {
        case linearizable
        /// The deepest partial linearization: the operations in order, the states after them, and the operation
        /// whose response came before it could be linearized.
        case notLinearizable(prefix: [Int], states: Set<State>, blocked: Int?)
        case undecided
    }

    /// A point of the search already explored: which operations are placed, and the states after them.
    private struct Explored: Hashable {
        var linearized: Bitset
        var states: Set<State>
    }

    private struct Entry {
        var operation: Int
        var isCall: Bool
        /// The other entry of the same operation.
        var match: Int
    }

    private let operations: [Operation]
    private let initial: State
    private let step: (State, Int) -> [State]

    /// - Parameters:
    ///   - operations: The history.
    ///   - initial: The model's state before the first operation.
    ///   - step: The states after applying operation `i` to a state; empty when the model refuses it.
    init(operations: [Operation], initial: State, step: @escaping (State, Int) -> [State]) {
        self.operations = operations
        self.initial = initial
        self.step = step
    }

    /// Runs the search for at most `stepLimit` entry visits.
    /// - Returns: The verdict, and how many steps it took.
    func run(stepLimit: Int) -> (Verdict, steps: Int) {
        let count = self.operations.count
        guard count > 0 else { return (.linearizable, 0) }

        // Entries sorted by time; nil return times come last.
        var order: [(time: Duration?, isCall: Bool, operation: Int)] = []
        order.reserveCapacity(2 * count)
        for (index, operation) in self.operations.enumerated() {
            order.append((operation.invoked, true, index))
            order.append((operation.returned.map { max($0, operation.invoked) }, false, index))
        }
        order.sort { a, b in
            switch (a.time, b.time) {
            case (nil, nil): return a.operation < b.operation
            case (nil, _): return false
            case (_, nil): return true
            case (let x?, let y?):
                if x != y { return x < y }
                if a.isCall != b.isCall { return a.isCall }
                return a.operation < b.operation
            }
        }
        var entries: [Entry] = []
        entries.reserveCapacity(order.count)
        var callEntry = [Int](repeating: -1, count: count)
        var returnEntry = [Int](repeating: -1, count: count)
        for (position, item) in order.enumerated() {
            entries.append(Entry(operation: item.operation, isCall: item.isCall, match: -1))
            if item.isCall { callEntry[item.operation] = position } else { returnEntry[item.operation] = position }
        }
        for operation in 0..<count {
            entries[callEntry[operation]].match = returnEntry[operation]
            entries[returnEntry[operation]].match = callEntry[operation]
        }

        // A doubly linked list over the entries, with a head sentinel at index `entries.count`.
        let head = entries.count
        var next = [Int](repeating: -1, count: entries.count + 1)
        var previous = [Int](repeating: -1, count: entries.count + 1)
        next[head] = 0
        for index in 0..<entries.count {
            previous[index] = index == 0 ? head : index - 1
            next[index] = index + 1 < entries.count ? index + 1 : -1
        }

        func lift(_ entry: Int) {
            next[previous[entry]] = next[entry]
            previous[next[entry]] = previous[entry]  // a call entry is never last: its return follows
            let match = entries[entry].match
            next[previous[match]] = next[match]
            if next[match] != -1 { previous[next[match]] = previous[match] }
        }
        func unlift(_ entry: Int) {
            let match = entries[entry].match
            next[previous[match]] = match
            if next[match] != -1 { previous[next[match]] = match }
            next[previous[entry]] = entry
            previous[next[entry]] = entry
        }

        var explored: Set<Explored> = []
        var linearized = Bitset(count: count)
        var states: Set<State> = [self.initial]
        var stack: [(entry: Int, states: Set<State>)] = []

        var deepest: (prefix: [Int], states: Set<State>, blocked: Int?) = ([], states, nil)
        var steps = 0
        var entry = next[head]
        while next[head] != -1 {
            steps += 1
            if steps > stepLimit { return (.undecided, steps) }
            let operation = entries[entry].operation
            if entries[entry].isCall {
                var after: Set<State> = []
                for state in states {
                    after.formUnion(self.step(state, operation))
                }
                if !after.isEmpty {
                    var candidate = linearized
                    candidate.insert(operation)
                    if explored.insert(Explored(linearized: candidate, states: after)).inserted {
                        stack.append((entry, states))
                        states = after
                        linearized = candidate
                        lift(entry)
                        if stack.count > deepest.prefix.count {
                            deepest = (stack.map { entries[$0.entry].operation }, states, nil)
                        }
                        entry = next[head]
                        continue
                    }
                }
                entry = next[entry]
            } else {
                if stack.count == deepest.prefix.count, deepest.blocked == nil { deepest.blocked = operation }
                guard let top = stack.popLast() else {
                    return (
                        .notLinearizable(prefix: deepest.prefix, states: deepest.states, blocked: deepest.blocked),
                        steps
                    )
                }
                linearized.remove(entries[top.entry].operation)
                states = top.states
                unlift(top.entry)
                entry = next[top.entry]
            }
        }
        return (.linearizable, steps)
    }
}

/// A fixed-size set of operation indices.
struct Bitset: Hashable {
    private var words: [UInt64]

    init(count: Int) {
        self.words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    mutating func insert(_ index: Int) {
        self.words[index >> 6] |= 1 << UInt64(index & 63)
    }

    mutating func remove(_ index: Int) {
        self.words[index >> 6] &= ~(1 << UInt64(index & 63))
    }

    func contains(_ index: Int) -> Bool {
        self.words[index >> 6] & (1 << UInt64(index & 63)) != 0
    }
}
