import Foundation
import LeaseholdCore
import LeaseholdWire

/// One JSON object per line on stdout, with sorted keys and snake_case field names that scripts can rely on.
enum JSONLines {
    /// Prints `value` as one line of JSON and flushes stdout, so that a reader on a pipe sees it at once.
    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        Output.print(String(decoding: data, as: UTF8.self))
    }
}

/// `LockInfo` as `list --json` and `status --json` print it.
struct LockJSON: Encodable {
    var key: String
    var sessionID: UInt64
    var fencingToken: UInt64
    var owner: String
    var acquiredAtMilliseconds: UInt64
    var sessionTTLMilliseconds: Int64

    enum CodingKeys: String, CodingKey {
        case key
        case sessionID = "session_id"
        case fencingToken = "fencing_token"
        case owner
        case acquiredAtMilliseconds = "acquired_at_ms"
        case sessionTTLMilliseconds = "session_ttl_ms"
    }

    init(_ lock: LockInfo) {
        self.key = lock.key
        self.sessionID = lock.sessionID.rawValue
        self.fencingToken = lock.fencingToken
        self.owner = lock.owner
        self.acquiredAtMilliseconds = lock.acquiredAt.millisecondsSince1970
        self.sessionTTLMilliseconds = lock.sessionTTL.wholeMilliseconds
    }
}

/// `Event` as `watch --json` prints it.
struct EventJSON: Encodable {
    var revision: UInt64
    var type: String
    var key: String
    var sessionID: UInt64
    var fencingToken: UInt64
    var owner: String
    var atMilliseconds: UInt64

    enum CodingKeys: String, CodingKey {
        case revision
        case type
        case key
        case sessionID = "session_id"
        case fencingToken = "fencing_token"
        case owner
        case atMilliseconds = "at_ms"
    }

    init(_ event: Event) {
        self.revision = event.revision
        self.type = event.kind.name
        self.key = event.key
        self.sessionID = event.sessionID.rawValue
        self.fencingToken = event.fencingToken
        self.owner = event.owner
        self.atMilliseconds = event.at.millisecondsSince1970
    }
}

/// `DescribeResponse` as `status --json` prints it; `lock` is `null` when the key is free.
struct StatusJSON: Encodable {
    struct WaiterJSON: Encodable {
        var sessionID: UInt64
        var owner: String
        var waitingSinceMilliseconds: UInt64

        enum CodingKeys: String, CodingKey {
            case sessionID = "session_id"
            case owner
            case waitingSinceMilliseconds = "waiting_since_ms"
        }
    }

    var key: String
    var held: Bool
    var lock: LockJSON?
    var waiters: UInt32
    var queue: [WaiterJSON]
    var revision: UInt64

    enum CodingKeys: String, CodingKey {
        case key, held, lock, waiters, queue, revision
    }

    init(key: String, _ response: DescribeResponse) {
        self.key = key
        self.held = response.held
        self.lock = response.lock.map(LockJSON.init)
        self.waiters = response.waiters
        self.queue = response.queue.map {
            WaiterJSON(
                sessionID: $0.sessionID.rawValue,
                owner: $0.owner,
                waitingSinceMilliseconds: $0.waitingSince.millisecondsSince1970
            )
        }
        self.revision = response.revision
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.key, forKey: .key)
        try container.encode(self.held, forKey: .held)
        try container.encode(self.lock, forKey: .lock)  // null when free, so the field is always there
        try container.encode(self.waiters, forKey: .waiters)
        try container.encode(self.queue, forKey: .queue)
        try container.encode(self.revision, forKey: .revision)
    }
}
