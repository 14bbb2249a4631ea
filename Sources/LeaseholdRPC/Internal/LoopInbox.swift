import NIOCore
import Synchronization

/// A queue into an event loop that many threads post to: the first post after the loop has drained schedules one
/// drain, later posts ride along. So a burst of replies from many call tasks costs one task on the loop (and at most
/// one wake-up) instead of one each, and items keep the order they were posted in.
final class LoopInbox<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var drainScheduled = false
    }

    private let state = Mutex(State())
    private let loop: any EventLoop
    private let drain: @Sendable ([Item]) -> Void

    /// Creates an inbox.
    /// - Parameters:
    ///   - loop: The loop that processes items.
    ///   - drain: Runs on `loop` with the items posted since the last drain, in order.
    init(loop: any EventLoop, drain: @escaping @Sendable ([Item]) -> Void) {
        self.loop = loop
        self.drain = drain
    }

    /// Posts an item from any thread.
    func post(_ item: Item) {
        let schedule = self.state.withLock { state -> Bool in
            state.items.append(item)
            guard !state.drainScheduled else { return false }
            state.drainScheduled = true
            return true
        }
        guard schedule else { return }
        self.loop.execute {
            let items = self.state.withLock { state -> [Item] in
                state.drainScheduled = false
                defer { state.items.removeAll(keepingCapacity: true) }
                return state.items
            }
            self.drain(items)
        }
    }
}
