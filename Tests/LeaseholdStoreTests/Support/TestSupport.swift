import Dispatch
import Foundation
import LeaseholdCore
import LeaseholdStore
import Logging
import Synchronization

/// A fresh folder under the system temporary directory, removed with everything in it when the value goes away.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init() throws {
        self.path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("leasehold-store-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: self.path)
    }

    /// The path of `name` inside the folder.
    func file(_ name: String = "leasehold.db") -> String {
        self.path + "/" + name
    }
}

let testLogger = Logger(label: "leasehold.store.tests", factory: { _ in SwiftLogNoOpLogHandler() })

extension SQLiteStore {
    /// Opens a store with test defaults.
    static func open(
        _ path: String,
        synchronous: Configuration.Synchronous = .full,
        eventRetention: Int = 100_000,
        eventMaxAge: Duration = .seconds(7 * 24 * 3600),
        retentionChunkSize: Int = 5_000
    ) throws -> SQLiteStore {
        let configuration = Configuration(
            path: path,
            synchronous: synchronous,
            eventRetention: eventRetention,
            eventMaxAge: eventMaxAge,
            retentionChunkSize: retentionChunkSize
        )
        return try SQLiteStore(configuration: configuration, logger: testLogger)
    }

    /// Submits and waits for the completion.
    func commit(_ mutations: [Mutation]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.submit(mutations) { continuation.resume(with: $0) }
        }
    }

    /// Submits and waits for the completion, returning the result instead of throwing it.
    func commitResult(_ mutations: [Mutation]) async -> Result<Void, any Error> {
        await withCheckedContinuation { continuation in
            self.submit(mutations) { continuation.resume(returning: $0) }
        }
    }

    /// Every stored event from `start` on.
    func allEvents(prefix: String = "", from start: UInt64 = 0) async throws -> EventPage {
        try await self.events(prefix: prefix, from: start, limit: Int.max)
    }
}

/// Builds sessions and events with readable defaults.
enum Fixture {
    /// The wall time when the tests started: recent, so that the default 7-day retention keeps these events.
    static let t0 = WallTime(millisecondsSince1970: UInt64(Date.now.timeIntervalSince1970 * 1_000))

    static func session(_ id: UInt64, ttl: Duration = .seconds(10)) -> SessionRecord {
        SessionRecord(
            id: SessionID(id),
            secretHash: Array(repeating: UInt8(truncatingIfNeeded: id), count: 32),
            ttl: ttl,
            owner: "owner-\(id)",
            name: "worker \(id)"
        )
    }

    /// An event; `token` defaults to `revision`, right for `acquired`.
    static func event(
        _ revision: UInt64,
        _ kind: Event.Kind,
        _ key: String,
        session: UInt64,
        token: UInt64? = nil,
        at: WallTime? = nil
    ) -> Event {
        Event(
            revision: revision,
            kind: kind,
            key: key,
            sessionID: SessionID(session),
            fencingToken: token ?? revision,
            owner: "owner-\(session)",
            at: at ?? WallTime(millisecondsSince1970: Self.t0.millisecondsSince1970 + revision)
        )
    }

    /// `count` events on one key by session 1, alternating acquired / released, from revision `first`.
    static func alternatingEvents(
        count: Int,
        from first: UInt64 = 1,
        key: String = "k",
        at: WallTime? = nil
    )
        -> [Mutation]
    {
        (0..<UInt64(count)).map { offset in
            let revision = first + offset
            return offset % 2 == 0
                ? .event(Self.event(revision, .acquired, key, session: 1, at: at))
                : .event(Self.event(revision, .released, key, session: 1, token: revision - 1, at: at))
        }
    }
}

/// Collects values from any thread.
final class Recorder<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    func append(_ element: Element) {
        self.items.withLock { $0.append(element) }
    }

    var all: [Element] {
        self.items.withLock { $0 }
    }
}

/// Holds the store's writer thread inside the completion of a barrier until ``release()``, so that everything
/// submitted meanwhile queues up and is taken by the writer at once.
final class WriterGate: Sendable {
    private let gate = DispatchSemaphore(value: 0)

    /// Returns once the writer thread is held.
    init(holding store: SQLiteStore) {
        let entered = DispatchSemaphore(value: 0)
        store.submit([]) { [gate] _ in
            entered.signal()
            gate.wait()
        }
        // Signalled by the writer thread, never by the cooperative pool: blocking here cannot deadlock.
        entered.wait()
    }

    func release() {
        self.gate.signal()
    }
}
