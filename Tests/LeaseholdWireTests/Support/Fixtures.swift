import FencedResourceWire
import LeaseholdCore
import LeaseholdWire
import Testing

/// One message value under test, labelled for the test report (large values would make unreadable names).
struct Sample: Sendable, CustomTestStringConvertible {
    let message: any WireMessage & Hashable
    let label: String

    init(_ label: String, _ message: some WireMessage & Hashable) {
        self.label = label
        self.message = message
    }

    var testDescription: String { "\(type(of: self.message)) (\(self.label))" }
}

/// A message and the bytes the spec's field numbers give it, written by ``ProtoBytes`` rather than protobuf-c.
struct GoldenCase: Sendable, CustomTestStringConvertible {
    let message: any WireMessage & Hashable
    let wire: ProtoBytes

    init(_ message: some WireMessage & Hashable, _ wire: ProtoBytes) {
        self.message = message
        self.wire = wire
    }

    var testDescription: String { "\(type(of: self.message))" }
}

enum Fixtures {
    /// Every ``WireMessage`` in LeaseholdWire.
    static let allTypes: [any (WireMessage & Hashable).Type] = [
        LockInfo.self, Status.self, WaiterInfo.self, Event.self, Empty.self,
        HelloRequest.self, HelloResponse.self,
        OpenSessionRequest.self, ResumeSessionRequest.self, SessionInfo.self, KeepAliveRequest.self,
        KeepAliveResponse.self, CloseSessionRequest.self, CloseSessionResponse.self,
        AcquireRequest.self, AcquireResponse.self, ReleaseRequest.self, ReleaseResponse.self,
        ForceReleaseRequest.self, ForceReleaseResponse.self,
        DescribeRequest.self, DescribeResponse.self, ValidateRequest.self, ValidateResponse.self,
        ListRequest.self, ListResponse.self, WatchRequest.self, WatchResponse.self,
        FencedWriteRequest.self, FencedWriteResponse.self, FencedReadRequest.self, FencedReadResponse.self,
    ]

    // MARK: - Values

    /// Non-ASCII text without NUL (text fields refuse a NUL).
    static let text = "ключ/ロック/🔒/é/\u{7F}/\u{1}"
    static let maxDuration = Duration.milliseconds(Int64(UInt32.max))
    static let maxTime = WallTime(millisecondsSince1970: .max)
    static let everyByte = (0...255).map { UInt8($0) }

    static let emptyLock = LockInfo(
        key: "",
        sessionID: SessionID(0),
        fencingToken: 0,
        owner: "",
        acquiredAt: WallTime(millisecondsSince1970: 0),
        sessionTTL: .zero
    )
    static let maxLock = LockInfo(
        key: text,
        sessionID: SessionID(.max),
        fencingToken: .max,
        owner: text,
        acquiredAt: maxTime,
        sessionTTL: maxDuration
    )

    static func lock(_ index: Int) -> LockInfo {
        LockInfo(
            key: "jobs/\(index)/\(text)",
            sessionID: SessionID(UInt64(index) * 7_919),
            fencingToken: UInt64(index) << 40,
            owner: "owner-\(index % 13)",
            acquiredAt: WallTime(millisecondsSince1970: 1_700_000_000_000 + UInt64(index)),
            sessionTTL: .milliseconds(1_000 + index)
        )
    }

    static func event(_ index: Int) -> Event {
        Event(
            revision: UInt64.max - UInt64(index),
            kind: Event.Kind.allCases[index % Event.Kind.allCases.count],
            key: "jobs/\(index)",
            sessionID: SessionID(UInt64(index)),
            fencingToken: UInt64(index) * 3,
            owner: text,
            at: WallTime(millisecondsSince1970: UInt64(index))
        )
    }

    static func waiter(_ index: Int) -> WaiterInfo {
        WaiterInfo(
            sessionID: SessionID(UInt64(index) + 1),
            owner: "waiter-\(index)",
            waitingSince: WallTime(millisecondsSince1970: UInt64(index) * 1_000)
        )
    }

    // MARK: - Round-trip samples

    /// Every message with zero, empty and absent fields: proto3 leaves them all off the wire.
    static let emptySamples: [Sample] = [
        Sample("empty", emptyLock),
        Sample("empty", Status(code: .ok)),
        Sample(
            "empty",
            WaiterInfo(sessionID: SessionID(0), owner: "", waitingSince: WallTime(millisecondsSince1970: 0))
        ),
        Sample(
            "empty",
            Event(
                revision: 0,
                kind: .acquired,
                key: "",
                sessionID: SessionID(0),
                fencingToken: 0,
                owner: "",
                at: WallTime(millisecondsSince1970: 0)
            )
        ),
        Sample("empty", Empty()),
        Sample("empty", HelloRequest(protocolVersion: 0)),
        Sample(
            "empty",
            HelloResponse(serverVersion: "", serverID: "", protocolVersion: 0, maxFrameBytes: 0, principal: "")
        ),
        Sample("empty", OpenSessionRequest()),
        Sample("empty", ResumeSessionRequest(sessionID: SessionID(0), secret: [])),
        Sample("empty", SessionInfo(sessionID: SessionID(0), ttl: .zero, expiresIn: .zero, owner: "")),
        Sample("empty", KeepAliveRequest(sessionID: SessionID(0))),
        Sample("empty", KeepAliveResponse(ttl: .zero, expiresIn: .zero)),
        Sample("empty", CloseSessionRequest(sessionID: SessionID(0))),
        Sample("empty", CloseSessionResponse()),
        Sample("empty", AcquireRequest(sessionID: SessionID(0), key: "")),
        Sample("empty", AcquireResponse(lock: nil)),
        Sample("empty", ReleaseRequest(sessionID: SessionID(0), key: "", fencingToken: 0)),
        Sample("empty", ReleaseResponse(revision: 0)),
        Sample("empty", ForceReleaseRequest(key: "")),
        Sample("empty", ForceReleaseResponse(released: nil, revision: 0)),
        Sample("empty", DescribeRequest(key: "")),
        Sample("empty", DescribeResponse(held: false, revision: 0)),
        Sample("empty", ValidateRequest(key: "", fencingToken: 0)),
        Sample("empty", ValidateResponse(valid: false, revision: 0)),
        Sample("empty", ListRequest()),
        Sample("empty", ListResponse(revision: 0)),
        Sample("empty", WatchRequest()),
        Sample("empty", WatchResponse(revision: 0)),
        Sample("empty", FencedWriteRequest(resource: "", fencingToken: 0, lockKey: "")),
        Sample("empty", FencedWriteResponse(version: 0, acceptedToken: 0)),
        Sample("empty", FencedReadRequest(resource: "")),
        Sample("empty", FencedReadResponse(version: 0, highestToken: 0)),
    ]

    /// Every message at its limits: maximal integers, non-ASCII text, every byte value, large repeated fields.
    static let extremeSamples: [Sample] = [
        Sample("max", maxLock),
        Sample("no fields", Empty()),
        Sample(
            "max",
            Status(
                code: .unsupportedProtocol,
                message: text,
                holder: maxLock,
                highestToken: .max,
                compactRevision: .max
            )
        ),
        Sample("unknown code", Status(code: LeaseholdError.Code(rawValue: 999))),
        Sample("negative code", Status(code: LeaseholdError.Code(rawValue: -1))),
        Sample("max", WaiterInfo(sessionID: SessionID(.max), owner: text, waitingSince: maxTime)),
        Sample(
            "max",
            Event(
                revision: .max,
                kind: .forceReleased,
                key: text,
                sessionID: SessionID(.max),
                fencingToken: .max,
                owner: text,
                at: maxTime
            )
        ),
        Sample(
            "max",
            HelloRequest(
                protocolVersion: .max,
                clientName: text,
                token: String(repeating: "t0k3n", count: 2_000)
            )
        ),
        Sample(
            "1,000 roles",
            HelloResponse(
                serverVersion: text,
                serverID: text,
                protocolVersion: .max,
                maxFrameBytes: .max,
                principal: text,
                roles: (0..<1_000).map { "role-\($0)-\(text)" }
            )
        ),
        Sample("max", OpenSessionRequest(ttl: maxDuration, name: text)),
        Sample("every byte", ResumeSessionRequest(sessionID: SessionID(.max), secret: everyByte)),
        Sample(
            "1,000 locks",
            SessionInfo(
                sessionID: SessionID(.max),
                secret: [0, 0, 1, 0],
                ttl: maxDuration,
                expiresIn: maxDuration,
                owner: text,
                locks: (0..<1_000).map(lock)
            )
        ),
        Sample("max", KeepAliveRequest(sessionID: SessionID(.max))),
        Sample("max", KeepAliveResponse(ttl: maxDuration, expiresIn: maxDuration)),
        Sample("max", CloseSessionRequest(sessionID: SessionID(.max))),
        Sample("max", CloseSessionResponse(released: .max)),
        Sample(
            "512-byte key",
            AcquireRequest(
                sessionID: SessionID(.max),
                key: String(repeating: "k/", count: 256),
                wait: maxDuration
            )
        ),
        Sample("max", AcquireResponse(lock: maxLock)),
        Sample("present but empty lock", AcquireResponse(lock: emptyLock)),
        Sample("max", ReleaseRequest(sessionID: SessionID(.max), key: text, fencingToken: .max)),
        Sample("max", ReleaseResponse(revision: .max)),
        Sample("max", ForceReleaseRequest(key: text, reason: text)),
        Sample("max", ForceReleaseResponse(released: maxLock, revision: .max)),
        Sample("max", DescribeRequest(key: text)),
        Sample(
            "1,000 waiters",
            DescribeResponse(
                held: true,
                lock: maxLock,
                waiters: .max,
                queue: (0..<1_000).map(waiter),
                revision: .max
            )
        ),
        Sample("max", ValidateRequest(key: text, fencingToken: .max)),
        Sample("max", ValidateResponse(valid: true, lock: maxLock, revision: .max)),
        Sample("max", ListRequest(prefix: text, limit: .max)),
        Sample("10,000 locks", ListResponse(locks: (0..<10_000).map(lock), revision: .max)),
        Sample("max", WatchRequest(prefix: text, startRevision: .max)),
        Sample("10,000 events", WatchResponse(events: (0..<10_000).map(event), revision: .max)),
        Sample(
            "1 MiB",
            FencedWriteRequest(
                resource: text,
                fencingToken: .max,
                data: (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 * 31) },
                lockKey: text
            )
        ),
        Sample("max", FencedWriteResponse(version: .max, acceptedToken: .max)),
        Sample("max", FencedReadRequest(resource: text)),
        Sample("every byte", FencedReadResponse(data: everyByte, version: .max, highestToken: .max)),
    ]

    // MARK: - Golden bytes

    static let goldenLock = LockInfo(
        key: "jobs/1",
        sessionID: SessionID(2),
        fencingToken: 3,
        owner: "ops",
        acquiredAt: WallTime(millisecondsSince1970: 5),
        sessionTTL: .milliseconds(6)
    )
    static let goldenLockWire = ProtoBytes().string(1, "jobs/1").varint(2, 2).varint(3, 3).string(4, "ops")
        .varint(5, 5).varint(6, 6)
    static let goldenWaiter = WaiterInfo(
        sessionID: SessionID(7),
        owner: "w",
        waitingSince: WallTime(millisecondsSince1970: 8)
    )
    static let goldenWaiterWire = ProtoBytes().varint(1, 7).string(2, "w").varint(3, 8)
    static let goldenEvent = Event(
        revision: 9,
        kind: .forceReleased,
        key: "k",
        sessionID: SessionID(10),
        fencingToken: 11,
        owner: "o",
        at: WallTime(millisecondsSince1970: 12)
    )
    static let goldenEventWire = ProtoBytes().varint(1, 9).varint(2, 4).string(3, "k").varint(4, 10).varint(5, 11)
        .string(6, "o").varint(7, 12)
    static let goldenStatus = Status(
        code: .lockHeld,
        message: "held",
        holder: goldenLock,
        highestToken: 13,
        compactRevision: 14
    )
    static let goldenStatusWire = ProtoBytes().varint(1, 101).string(2, "held").message(3, goldenLockWire)
        .varint(4, 13).varint(5, 14)

    /// Every message with every field set to a distinct non-default value, and its bytes field by field.
    static let golden: [GoldenCase] = [
        GoldenCase(goldenLock, goldenLockWire),
        GoldenCase(goldenStatus, goldenStatusWire),
        GoldenCase(goldenWaiter, goldenWaiterWire),
        GoldenCase(goldenEvent, goldenEventWire),
        GoldenCase(Empty(), ProtoBytes()),
        GoldenCase(
            HelloRequest(protocolVersion: 1, clientName: "cli", token: "tok"),
            ProtoBytes().varint(1, 1).string(2, "cli").string(3, "tok")
        ),
        GoldenCase(
            HelloResponse(
                serverVersion: "0.1",
                serverID: "s1",
                protocolVersion: 1,
                maxFrameBytes: 1 << 20,
                principal: "ops",
                roles: ["admin", "reader"]
            ),
            ProtoBytes().string(1, "0.1").string(2, "s1").varint(3, 1).varint(4, 1 << 20).string(5, "ops")
                .string(6, "admin").string(6, "reader")
        ),
        GoldenCase(
            OpenSessionRequest(ttl: .seconds(10), name: "worker"),
            ProtoBytes().varint(1, 10_000).string(2, "worker")
        ),
        GoldenCase(
            ResumeSessionRequest(sessionID: SessionID(15), secret: [1, 0, 2]),
            ProtoBytes().varint(1, 15).bytes(2, [1, 0, 2])
        ),
        GoldenCase(
            SessionInfo(
                sessionID: SessionID(16),
                secret: [0xAA],
                ttl: .seconds(30),
                expiresIn: .milliseconds(29_500),
                owner: "ops",
                locks: [goldenLock, goldenLock]
            ),
            ProtoBytes().varint(1, 16).bytes(2, [0xAA]).varint(3, 30_000).varint(4, 29_500).string(5, "ops")
                .message(6, goldenLockWire).message(6, goldenLockWire)
        ),
        GoldenCase(KeepAliveRequest(sessionID: SessionID(17)), ProtoBytes().varint(1, 17)),
        GoldenCase(
            KeepAliveResponse(ttl: .seconds(10), expiresIn: .seconds(9)),
            ProtoBytes().varint(1, 10_000).varint(2, 9_000)
        ),
        GoldenCase(CloseSessionRequest(sessionID: SessionID(18)), ProtoBytes().varint(1, 18)),
        GoldenCase(CloseSessionResponse(released: 19), ProtoBytes().varint(1, 19)),
        GoldenCase(
            AcquireRequest(sessionID: SessionID(20), key: "jobs/2", wait: .seconds(30)),
            ProtoBytes().varint(1, 20).string(2, "jobs/2").varint(3, 30_000)
        ),
        GoldenCase(AcquireResponse(lock: goldenLock), ProtoBytes().message(1, goldenLockWire)),
        GoldenCase(
            ReleaseRequest(sessionID: SessionID(21), key: "jobs/3", fencingToken: 22),
            ProtoBytes().varint(1, 21).string(2, "jobs/3").varint(3, 22)
        ),
        GoldenCase(ReleaseResponse(revision: 23), ProtoBytes().varint(1, 23)),
        GoldenCase(
            ForceReleaseRequest(key: "jobs/4", reason: "stuck"),
            ProtoBytes().string(1, "jobs/4").string(2, "stuck")
        ),
        GoldenCase(
            ForceReleaseResponse(released: goldenLock, revision: 24),
            ProtoBytes().message(1, goldenLockWire).varint(2, 24)
        ),
        GoldenCase(DescribeRequest(key: "jobs/5"), ProtoBytes().string(1, "jobs/5")),
        GoldenCase(
            DescribeResponse(
                held: true,
                lock: goldenLock,
                waiters: 2,
                queue: [goldenWaiter, goldenWaiter],
                revision: 25
            ),
            ProtoBytes().varint(1, 1).message(2, goldenLockWire).varint(3, 2).message(4, goldenWaiterWire)
                .message(4, goldenWaiterWire).varint(5, 25)
        ),
        GoldenCase(
            ValidateRequest(key: "jobs/6", fencingToken: 26),
            ProtoBytes().string(1, "jobs/6").varint(2, 26)
        ),
        GoldenCase(
            ValidateResponse(valid: true, lock: goldenLock, revision: 27),
            ProtoBytes().varint(1, 1).message(2, goldenLockWire).varint(3, 27)
        ),
        GoldenCase(ListRequest(prefix: "jobs/", limit: 28), ProtoBytes().string(1, "jobs/").varint(2, 28)),
        GoldenCase(
            ListResponse(locks: [goldenLock], revision: 29),
            ProtoBytes().message(1, goldenLockWire).varint(2, 29)
        ),
        GoldenCase(
            WatchRequest(prefix: "jobs/", startRevision: 30),
            ProtoBytes().string(1, "jobs/").varint(2, 30)
        ),
        GoldenCase(
            WatchResponse(events: [goldenEvent, goldenEvent], revision: 31),
            ProtoBytes().message(1, goldenEventWire).message(1, goldenEventWire).varint(2, 31)
        ),
        GoldenCase(
            FencedWriteRequest(resource: "r", fencingToken: 32, data: [0, 1, 2], lockKey: "jobs/7"),
            ProtoBytes().string(1, "r").varint(2, 32).bytes(3, [0, 1, 2]).string(4, "jobs/7")
        ),
        GoldenCase(
            FencedWriteResponse(version: 33, acceptedToken: 34),
            ProtoBytes().varint(1, 33).varint(2, 34)
        ),
        GoldenCase(FencedReadRequest(resource: "r"), ProtoBytes().string(1, "r")),
        GoldenCase(
            FencedReadResponse(data: [9], version: 35, highestToken: 36),
            ProtoBytes().bytes(1, [9]).varint(2, 35).varint(3, 36)
        ),
    ]
}
