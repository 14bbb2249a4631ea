import HeapModule
import NIOCore

/// The deadlines of one connection's calls behind a single event-loop timer.
///
/// A NIO timer per call costs an allocation and a scheduled task, and NIO cancels a timer by scanning its loop's
/// queue, which under load holds one timer per call in flight. Here a call's deadline is one heap entry; a call that
/// ends needs no cancel (its entry is recognised as stale by its token and dropped when it reaches the top, or when
/// the heap is compacted). The timer is set for the earliest deadline of a call still open and is moved only when a
/// new call's deadline comes earlier, which with equal timeouts is never.
///
/// Confined to the connection's event loop.
final class CallDeadlines {
    /// Identifies one registration, so that a reused call id never inherits an older call's deadline.
    typealias Token = UInt64

    private struct Entry: Comparable {
        var deadline: NIODeadline
        var callID: UInt64
        var token: Token
        /// By deadline, then by registration: a total order, consistent with `==` (tokens are unique).
        static func < (lhs: Entry, rhs: Entry) -> Bool { (lhs.deadline, lhs.token) < (rhs.deadline, rhs.token) }
    }

    private let loop: any EventLoop
    /// Whether the call `callID` registered as `token` is still open.
    private let isOpen: (UInt64, Token) -> Bool
    /// Ends a call whose deadline has passed.
    private let expire: (UInt64, Token) -> Void
    private var heap = Heap<Entry>()
    private var nextToken: Token = 1
    private var timer: (deadline: NIODeadline, task: Scheduled<Void>)?

    /// - Parameters:
    ///   - loop: The connection's event loop; every method must be called on it.
    ///   - isOpen: Whether a registered call is still open.
    ///   - expire: Ends a call at its deadline (called only for open calls).
    init(loop: any EventLoop, isOpen: @escaping (UInt64, Token) -> Bool, expire: @escaping (UInt64, Token) -> Void) {
        self.loop = loop
        self.isOpen = isOpen
        self.expire = expire
    }

    /// A new token, to store with the call before ``add(callID:token:timeout:openCalls:)``.
    func makeToken() -> Token {
        defer { self.nextToken += 1 }
        return self.nextToken
    }

    /// Registers the deadline of a call that is open already and holds `token` (an entry whose call is not open
    /// with its token is dropped as stale).
    /// - Parameters:
    ///   - callID: The call.
    ///   - token: The call's token from ``makeToken()``.
    ///   - timeout: Time from now until the call must end.
    ///   - openCalls: How many calls are open now, to bound the stale entries kept.
    func add(callID: UInt64, token: Token, timeout: TimeAmount, openCalls: Int) {
        let entry = Entry(deadline: self.loop.now + timeout, callID: callID, token: token)
        self.heap.insert(entry)
        if self.heap.count > 2 * openCalls + 64 { self.compact() }
        if self.timer.map({ entry.deadline < $0.deadline }) ?? true { self.arm() }
    }

    /// Forgets every deadline (the connection is closing).
    func removeAll() {
        self.heap = Heap()
        self.timer?.task.cancel()
        self.timer = nil
    }

    private func compact() {
        self.heap = Heap(self.heap.unordered.filter { self.isOpen($0.callID, $0.token) })
    }

    /// Drops stale entries from the top and sets the timer for the earliest open call, if it is not set for it.
    private func arm() {
        while let top = self.heap.min, !self.isOpen(top.callID, top.token) { self.heap.removeMin() }
        guard let top = self.heap.min else {
            self.timer?.task.cancel()
            self.timer = nil
            return
        }
        if let timer = self.timer {
            if timer.deadline == top.deadline { return }
            timer.task.cancel()
        }
        let task = self.loop.assumeIsolated().scheduleTask(deadline: top.deadline) { self.fire() }
        self.timer = (top.deadline, task)
    }

    private func fire() {
        self.timer = nil
        let now = self.loop.now
        while let top = self.heap.min, top.deadline <= now {
            self.heap.removeMin()
            if self.isOpen(top.callID, top.token) { self.expire(top.callID, top.token) }
        }
        self.arm()
    }
}
