import LeaseholdConcurrency
import LeaseholdCore
import LeaseholdRPC
import LeaseholdStore
import LeaseholdWire
import NIOCore
import Synchronization

/// Serves watch streams: catch-up from the store's event log, then committed events as they are published.
///
/// ``publish(_:)`` is called in commit order, after each group commit. A watcher (``stream(prefix:from:to:)``)
/// first catches up from the store's event log while the hub buffers its live events; it then goes live, and from
/// there the hub writes to it directly. One encoded `WatchResponse` is shared by every live watcher with the same prefix. A watcher that
/// cannot keep up is ended by the RPC layer (its stream buffer bound) or here (its catch-up buffer bound).
final class WatchHub: Sendable {
    /// Most live events one watcher may have buffered while it reads history.
    static let maxCatchUpBuffer = 100_000

    private enum Phase {
        case catchingUp([Event])
        case live
    }

    /// One watch stream: a class only ever touched under the hub's lock (hence `@unchecked Sendable`).
    /// ``publish(_:)`` reads every watcher's fields for every event, and reading a struct out of the dictionary
    /// copied it whole (its prefix, phase, writer and continuation: a retain and a release each), which was most
    /// of the hub's time.
    private final class Watcher: @unchecked Sendable {
        let prefix: String
        /// Events below this revision are not sent (a start in the future).
        var from: UInt64
        var phase: Phase
        let writer: RPCStreamWriter<WatchResponse>
        var ended: CheckedContinuation<Void, Never>?
        var isEnded = false

        init(prefix: String, phase: Phase, writer: RPCStreamWriter<WatchResponse>) {
            self.prefix = prefix
            self.from = 0
            self.phase = phase
            self.writer = writer
        }

        /// Buffers live events during catch-up (in place, without copying the buffer).
        /// - Returns: How many events are buffered now.
        func buffer(_ events: [Event]) -> Int {
            guard case .catchingUp(var buffered) = self.phase else { return 0 }
            self.phase = .catchingUp([])
            buffered.append(contentsOf: events)
            self.phase = .catchingUp(buffered)
            return buffered.count
        }
    }

    private struct State: AfterUnlockState {
        var lastPublished: UInt64
        var watchers: [UInt64: Watcher] = [:]
        var nextID: UInt64 = 1
        /// Resumes the continuations of ended watchers once the lock is released.
        var afterUnlock = AfterUnlock()
    }

    private let state: Mutex<State>
    /// Where history comes from.
    private let store: any Store

    /// - Parameters:
    ///   - lastPublished: The revision of the last durable event.
    ///   - store: The event log, for catch-up reads.
    init(lastPublished: UInt64, store: any Store) {
        self.state = Mutex(State(lastPublished: lastPublished))
        self.store = store
    }

    /// Streams the events under `prefix` from revision `start` on (0: from now): history from the event log up to
    /// the seam, then live events from the hub, with no gap and no duplicate, until the call ends.
    /// - Throws: `COMPACTED` when `start` is older than the log keeps; `RESOURCE_EXHAUSTED` when the watcher fell
    ///   too far behind; `CancellationError` when the call ends.
    func stream(prefix: String, from start: UInt64, to writer: RPCStreamWriter<WatchResponse>) async throws {
        let (id, seam) = self.subscribe(prefix: prefix, writer: writer)
        defer { self.unsubscribe(id) }
        let from = start == 0 ? seam + 1 : start
        var next = from
        while next <= seam {
            let page = try await self.store.events(prefix: prefix, from: next, limit: Self.catchUpPage)
            if next < page.compactRevision {
                throw LeaseholdError(
                    code: .compacted,
                    message: "revision \(next) is compacted; the oldest kept is \(page.compactRevision)",
                    compactRevision: page.compactRevision
                )
            }
            let events = page.events.prefix { $0.revision <= seam }
            if let last = events.last {
                try writer.send(WatchResponse(events: Array(events), revision: last.revision))
                next = last.revision + 1
            }
            if events.count < Self.catchUpPage { break }
        }
        self.goLive(id, from: from)
        await self.waitUntilEnded(id)
        try Task.checkCancellation()
        if writer.isOpen {
            throw LeaseholdError(code: .resourceExhausted, message: "the watcher fell too far behind")
        }
    }

    /// Events read from the log per catch-up page.
    private static let catchUpPage = 1_000

    /// The revision of the last event published.
    var lastPublished: UInt64 { self.state.withLock { $0.lastPublished } }

    /// Watch streams open right now (metrics).
    var watcherCount: Int { self.state.withLock { $0.watchers.count } }

    /// Registers a watcher that buffers live events until ``goLive(_:)``.
    /// - Returns: The watcher's id and the last revision published before it was registered: history up to and
    ///   including it comes from the store, everything after it from the hub.
    private func subscribe(prefix: String, writer: RPCStreamWriter<WatchResponse>) -> (id: UInt64, seam: UInt64) {
        self.state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.watchers[id] = Watcher(prefix: prefix, phase: .catchingUp([]), writer: writer)
            return (id, state.lastPublished)
        }
    }

    /// Sends what was buffered during catch-up (from `from` on) and the live marker, then lets the hub write
    /// to the watcher directly.
    private func goLive(_ id: UInt64, from: UInt64) {
        self.locked { state in
            guard let watcher = state.watchers[id], !watcher.isEnded, case .catchingUp(let buffered) = watcher.phase
            else {
                return
            }
            watcher.from = from
            watcher.phase = .live
            let events = buffered.filter { $0.revision >= from }
            do {
                if !events.isEmpty {
                    try watcher.writer.send(WatchResponse(events: events, revision: events.last!.revision))
                }
                // An empty response tells the client it is caught up, as of this revision.
                try watcher.writer.send(WatchResponse(events: [], revision: state.lastPublished))
            } catch {
                Self.end(watcher, in: &state)
            }
        }
    }

    /// Waits until the watcher ends: its stream closed, or it was unsubscribed.
    private func waitUntilEnded(_ id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ended = self.state.withLock { state -> Bool in
                    guard let watcher = state.watchers[id], !watcher.isEnded else { return true }
                    watcher.ended = continuation
                    return false
                }
                if ended { continuation.resume() }
            }
        } onCancel: {
            self.locked { state in
                if let watcher = state.watchers[id] { Self.end(watcher, in: &state) }
            }
        }
    }

    /// Removes a watcher.
    private func unsubscribe(_ id: UInt64) {
        self.locked { state in
            if let watcher = state.watchers.removeValue(forKey: id) { Self.end(watcher, in: &state) }
        }
    }

    /// Delivers the events of a committed batch, in revision order, to every matching watcher.
    ///
    /// Watchers of one prefix see the same events (unless one starts in the future), so the events are filtered
    /// and encoded once per prefix, not once per watcher. The events are gathered from the batch only when a
    /// watcher is open: a server without watchers pays no array per batch.
    /// - Parameter mutations: The batch, as committed; its events in revision order.
    func publish(_ mutations: [Mutation]) {
        var firstRevision: UInt64?
        var lastRevision: UInt64?
        for case .event(let event) in mutations {
            if firstRevision == nil { firstRevision = event.revision }
            lastRevision = event.revision
        }
        guard let first = firstRevision, let last = lastRevision else { return }
        self.locked { state in
            state.lastPublished = last
            guard state.watchers.values.contains(where: { !$0.isEnded }) else { return }
            let events = mutations.compactMap { mutation -> Event? in
                if case .event(let event) = mutation { return event }
                return nil
            }
            var byPrefix: [String: Delivery] = [:]
            for watcher in state.watchers.values where !watcher.isEnded {
                if watcher.from <= first {
                    // Filtered once per prefix (the default is built only when the prefix is first seen), and
                    // encoded in place in the dictionary.
                    Self.deliver(
                        &byPrefix[watcher.prefix, default: Delivery(events: events, prefix: watcher.prefix, from: 0)],
                        to: watcher,
                        revision: last,
                        in: &state
                    )
                } else {
                    var own = Delivery(events: events, prefix: watcher.prefix, from: watcher.from)
                    Self.deliver(&own, to: watcher, revision: last, in: &state)
                }
            }
        }
    }

    /// Buffers or sends one publish's matching events to `watcher`.
    private static func deliver(
        _ delivery: inout Delivery,
        to watcher: Watcher,
        revision: UInt64,
        in state: inout State
    ) {
        guard !delivery.matching.isEmpty else { return }
        switch watcher.phase {
        case .catchingUp:
            if watcher.buffer(delivery.matching) > Self.maxCatchUpBuffer {
                Self.end(watcher, in: &state)
            }
        case .live:
            do {
                try watcher.writer.send(encoded: delivery.payload(revision: revision))
            } catch {
                Self.end(watcher, in: &state)
            }
        }
    }

    /// The events of one publish that match a prefix, and their encoding once it is needed.
    private struct Delivery {
        var matching: [Event]
        private var encoded: ByteBuffer?

        init(events: [Event], prefix: String, from: UInt64) {
            self.matching = events.filter { $0.revision >= from && $0.key.utf8.starts(with: prefix.utf8) }
        }

        mutating func payload(revision: UInt64) -> ByteBuffer {
            if let encoded = self.encoded { return encoded }
            let encoded = WatchResponse(events: self.matching, revision: revision).encoded()
            self.encoded = encoded
            return encoded
        }
    }

    /// After the lock state was rebuilt from disk: events above the durable revision never happened.
    func reset(lastPublished: UInt64) {
        self.state.withLock { state in
            state.lastPublished = lastPublished
        }
    }

    /// Marks a watcher ended. Its waiting continuation is resumed by ``locked(_:)`` after the lock is released: a
    /// task being cancelled holds its own status lock while its cancellation handler waits for ours.
    private static func end(_ watcher: Watcher, in state: inout State) {
        watcher.isEnded = true
        if let continuation = watcher.ended {
            state.afterUnlock.append { continuation.resume() }
        }
        watcher.ended = nil
    }

    /// Runs `body` under the lock, then resumes the continuations of watchers it ended.
    private func locked<T>(_ body: (inout State) -> T) -> T {
        self.state.withLockThenRun(body)
    }
}
