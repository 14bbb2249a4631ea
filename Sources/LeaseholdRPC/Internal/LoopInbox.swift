import LeaseholdConcurrency
import NIOCore
import Synchronization

/// A queue into an event loop that many threads post to: the first post after the loop has drained schedules one
/// drain, later posts ride along. So a burst of replies from many call tasks costs one task on the loop (and at most
/// one wake-up) instead of one each, and items keep the order they were posted in.
///
/// The queue allocates nothing per item once it has warmed up: posts append to one array while a drain works
/// through the other, and the drain hands its emptied array back for the next one (a reply per drain, the common
/// case with one call in flight per connection, used to cost an array allocation).
///
/// A post from a thread that runs a ``WakeupBatch`` (the store's writer finishing a group commit) schedules its drain
/// when the batch ends: the loop is woken once per group, with everything the group posted, instead of racing the
/// writer and draining a part at a time.
final class LoopInbox<Item: Sendable>: DeferredWakeup {
    private struct State {
        var items: [Item] = []
        /// The array the last drain emptied, kept with its capacity for the next drain to swap in.
        var spare: [Item] = []
        var drainScheduled = false
    }

    /// The largest emptied array kept for reuse: a burst's memory is not held for the connection's lifetime.
    private static var spareCapacityKept: Int { 1_024 }

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
        guard schedule, !WakeupBatch.putOff(self) else { return }
        self.wakeNow()
    }

    /// Schedules the drain that a post found due: at once, or at the end of the poster's batch.
    func wakeNow() {
        self.loop.execute { self.drainNow() }
    }

    /// Runs on the loop: takes the posted items, leaving the spare array in their place, drains them, and keeps
    /// their array as the next spare.
    private func drainNow() {
        let items = self.state.withLock { state -> [Item] in
            state.drainScheduled = false
            var items: [Item] = []
            swap(&items, &state.spare)
            swap(&items, &state.items)
            return items
        }
        self.drain(items)
        var emptied = consume items
        guard emptied.capacity <= Self.spareCapacityKept else { return }
        emptied.removeAll(keepingCapacity: true)
        self.state.withLock { state in
            if state.spare.capacity < emptied.capacity { swap(&state.spare, &emptied) }
        }
    }
}
