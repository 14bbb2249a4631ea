import FencedResourceWire
import LeaseholdCore
import LeaseholdWire
import NIOCore
import Testing

/// Encodes `message` and decodes it back as its own type.
func roundTrip<M: WireMessage & Hashable>(_ message: M) throws -> M {
    try M(decoding: message.encoded())
}

/// Whether `message` round-trips to an equal value.
func roundTrips<M: WireMessage & Hashable>(_ message: M) throws -> Bool {
    try roundTrip(message) == message
}

@Suite("Message round trips")
struct MessageRoundTripTests {
    @Test("every message type has empty, extreme and golden samples")
    func coverage() {
        let all = Set(Fixtures.allTypes.map { ObjectIdentifier($0) })
        #expect(all.count == 32)
        let tables: [[any WireMessage]] = [
            Fixtures.emptySamples.map(\.message), Fixtures.extremeSamples.map(\.message),
            Fixtures.golden.map(\.message),
        ]
        for table in tables {
            #expect(Set(table.map { ObjectIdentifier(type(of: $0)) }) == all)
        }
        #expect(Set(Fixtures.allTypes.map { $0.protobufName }).count == Fixtures.allTypes.count)
    }

    @Test("empty and default values round-trip", arguments: Fixtures.emptySamples)
    func empty(_ sample: Sample) throws {
        #expect(try roundTrips(sample.message))
    }

    @Test("maximal, unicode and large values round-trip", arguments: Fixtures.extremeSamples)
    func extreme(_ sample: Sample) throws {
        #expect(try roundTrips(sample.message))
    }

    @Test("an absent message field decodes as nil, a present empty one as a value")
    func optionalMessageFields() throws {
        #expect(try roundTrip(AcquireResponse(lock: nil)).lock == nil)
        #expect(try roundTrip(AcquireResponse(lock: Fixtures.emptyLock)).lock == Fixtures.emptyLock)
        #expect(try roundTrip(Status(code: .lockHeld)).holder == nil)
    }

    @Test("durations travel as whole milliseconds, clamped to 0...UInt32.max")
    func durations() throws {
        #expect(try roundTrip(OpenSessionRequest(ttl: .microseconds(1_999))).ttl == .milliseconds(1))
        #expect(try roundTrip(OpenSessionRequest(ttl: .milliseconds(-5))).ttl == .zero)
        #expect(try roundTrip(OpenSessionRequest(ttl: .seconds(10_000_000))).ttl == Fixtures.maxDuration)
        #expect(try roundTrip(AcquireRequest(sessionID: SessionID(1), key: "k", wait: .zero)).wait == .zero)
    }

    @Test("defaults: Hello speaks protocol version 1, TTL zero asks for the server's default")
    func defaults() {
        #expect(HelloRequest().protocolVersion == 1)
        #expect(LeaseholdMethod.protocolVersion == 1)
        #expect(OpenSessionRequest().ttl == .zero)
        #expect(AcquireRequest(sessionID: SessionID(1), key: "k").wait == .zero)
    }

    @Test("bytes fields keep NUL bytes; text fields travel exactly, a NUL included")
    func embeddedNUL() throws {
        #expect(try roundTrip(ResumeSessionRequest(sessionID: SessionID(1), secret: [0, 1, 0])).secret == [0, 1, 0])
        // The encoder sends every byte of the key; the decoder refuses the NUL instead of cutting the key at it.
        let encoded = DescribeRequest(key: "a\u{0}b").encoded()
        #expect(Array(encoded.readableBytesView) == ProtoBytes().bytes(1, [0x61, 0x00, 0x62]).bytes)
        let refused = InvalidTextField(
            messageName: "leasehold.v1.DescribeRequest",
            field: "key",
            problem: .containsNUL(offset: 1)
        )
        #expect(throws: refused) {
            try DescribeRequest(decoding: encoded)
        }
    }
}

/// One text field of one request: which message, which field number and name, and how to decode it.
struct TextFieldCase: CustomTestStringConvertible, Sendable {
    var messageName: String
    var field: String
    var number: UInt64
    /// Fields other than this one, so that the message is otherwise valid.
    var others: ProtoBytes = ProtoBytes()
    var decode: @Sendable (ByteBuffer) throws -> Void
    var testDescription: String { "\(self.messageName).\(self.field)" }

    static func of<M: WireMessage>(_ type: M.Type, _ field: String, _ number: UInt64) -> TextFieldCase {
        TextFieldCase(messageName: M.protobufName, field: field, number: number) { _ = try M(decoding: $0) }
    }

    /// Every text field a client sends, and those of the nested messages a server sends.
    static let all: [TextFieldCase] = [
        .of(HelloRequest.self, "client_name", 2), .of(HelloRequest.self, "token", 3),
        .of(OpenSessionRequest.self, "name", 2), .of(AcquireRequest.self, "key", 2),
        .of(ReleaseRequest.self, "key", 2), .of(ForceReleaseRequest.self, "key", 1),
        .of(ForceReleaseRequest.self, "reason", 2), .of(DescribeRequest.self, "key", 1),
        .of(ValidateRequest.self, "key", 1), .of(ListRequest.self, "prefix", 1), .of(WatchRequest.self, "prefix", 1),
        .of(FencedWriteRequest.self, "resource", 1), .of(FencedWriteRequest.self, "lock_key", 4),
        .of(FencedReadRequest.self, "resource", 1), .of(LockInfo.self, "key", 1), .of(LockInfo.self, "owner", 4),
        .of(WaiterInfo.self, "owner", 2), .of(SessionInfo.self, "owner", 5),
        TextFieldCase(
            messageName: Event.protobufName,
            field: "key",
            number: 3,
            others: ProtoBytes().varint(2, 1)
        ) { _ = try Event(decoding: $0) },
        TextFieldCase(
            messageName: Event.protobufName,
            field: "owner",
            number: 6,
            others: ProtoBytes().varint(2, 1)
        ) { _ = try Event(decoding: $0) },
    ]
}

@Suite("Exact text fields")
struct ExactTextFieldTests {
    @Test("a NUL anywhere in a text field is refused, naming the field and the offset", arguments: TextFieldCase.all)
    func nul(_ textField: TextFieldCase) {
        for (bytes, offset) in [([0x00], 0), ([0x61, 0x00, 0x62], 1), (Array("jobs/1".utf8) + [0x00], 6)] {
            let wire = textField.others.bytes(textField.number, bytes)
            #expect(
                throws: InvalidTextField(
                    messageName: textField.messageName,
                    field: textField.field,
                    problem: .containsNUL(offset: offset)
                )
            ) {
                try textField.decode(ByteBuffer(bytes: wire.bytes))
            }
        }
    }

    @Test("bytes that are not UTF-8 are refused, not repaired", arguments: TextFieldCase.all)
    func invalidUTF8(_ textField: TextFieldCase) {
        // A lone continuation byte, a truncated sequence, an overlong '/', a surrogate, and 0xFF.
        for bytes: [UInt8] in [[0x61, 0x80], [0xE2, 0x82], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF]] {
            let wire = textField.others.bytes(textField.number, bytes)
            #expect(
                throws: InvalidTextField(
                    messageName: textField.messageName,
                    field: textField.field,
                    problem: .invalidUTF8
                )
            ) {
                try textField.decode(ByteBuffer(bytes: wire.bytes))
            }
        }
    }

    @Test("text keeps every byte: keys that differ only after the first bytes stay different")
    func exact() throws {
        let keys = ["jobs/1", "jobs/1x", "jobs/1 ", "ключ/🔒", String(repeating: "é", count: 256)]
        for key in keys {
            #expect(try roundTrip(AcquireRequest(sessionID: SessionID(7), key: key)).key == key)
            #expect(try roundTrip(WatchRequest(prefix: key, startRevision: 0)).prefix == key)
        }
    }

    @Test("a frame whose method holds a NUL does not decode as the method before the NUL")
    func method() throws {
        let wire = ProtoBytes().varint(1, 5).bytes(2, Array(LeaseholdMethod.describe.name.utf8) + [0x00, 0x78])
        let refused = InvalidTextField(
            messageName: "leasehold.v1.Frame",
            field: "method",
            problem: .containsNUL(offset: 31)
        )
        #expect(throws: refused) {
            try Frame(decoding: ByteBuffer(bytes: wire.bytes))
        }
        let exact = ProtoBytes().varint(1, 5).bytes(2, Array(LeaseholdMethod.describe.name.utf8))
        #expect(try Frame(decoding: ByteBuffer(bytes: exact.bytes)).method == LeaseholdMethod.describe.name)
    }
}

@Suite("Golden bytes")
struct GoldenBytesTests {
    @Test("messages encode to the spec's field numbers and wire types", arguments: Fixtures.golden)
    func encode(_ golden: GoldenCase) {
        #expect(Array(golden.message.encoded().readableBytesView) == golden.wire.bytes)
    }

    @Test("the spec's bytes decode to the message", arguments: Fixtures.golden)
    func decode(_ golden: GoldenCase) throws {
        #expect(try Self.decodes(golden.message, from: golden.wire.bytes))
    }

    @Test("unknown fields are skipped, so newer peers can add fields", arguments: Fixtures.golden)
    func unknownFields(_ golden: GoldenCase) throws {
        let wire = golden.wire.varint(99, 1).string(100, "future").raw([0xAD, 0x06, 1, 2, 3, 4])  // field 101, fixed32
        #expect(try Self.decodes(golden.message, from: wire.bytes))
    }

    @Test(
        "an EventType the Swift side does not know fails decoding with MalformedMessage",
        arguments: [0, 5, 255, 256, UInt64(UInt32.max), UInt64.max]
    )
    func unknownEventType(_ type: UInt64) {
        let event = ProtoBytes().varint(1, 1).varint(2, type).string(3, "k")
        #expect(throws: MalformedMessage(messageName: Event.protobufName)) {
            try Event(decoding: ByteBuffer(bytes: event.bytes))
        }
        let watch = ProtoBytes().message(1, Fixtures.goldenEventWire).message(1, event).varint(2, 7)
        #expect(throws: MalformedMessage(messageName: WatchResponse.protobufName)) {
            try WatchResponse(decoding: ByteBuffer(bytes: watch.bytes))
        }
    }

    @Test(
        "a string field that is not UTF-8 fails the whole message instead of being repaired",
        arguments: [
            GoldenCase(DescribeRequest(key: ""), ProtoBytes().bytes(1, [0x6B, 0xFF])),
            GoldenCase(
                HelloResponse(serverVersion: "", serverID: "", maxFrameBytes: 0, principal: ""),
                ProtoBytes().string(6, "admin").bytes(6, [0xC3, 0x28])
            ),
            GoldenCase(AcquireResponse(lock: nil), ProtoBytes().message(1, ProtoBytes().bytes(4, [0xED, 0xA0, 0x80]))),
            GoldenCase(WatchResponse(revision: 0), ProtoBytes().message(1, ProtoBytes().varint(2, 1).bytes(3, [0x80]))),
            GoldenCase(FencedReadRequest(resource: ""), ProtoBytes().bytes(1, [0xF8, 0x88, 0x80, 0x80, 0x80])),
        ]
    )
    func invalidUTF8(_ golden: GoldenCase) {
        // `golden.message` only names the type; the bytes are the point. Text fields name the field in their error;
        // the server's own `string` fields (HelloResponse's) fail the message as a whole.
        let name = type(of: golden.message).protobufName
        do {
            _ = try type(of: golden.message).init(decoding: ByteBuffer(bytes: golden.wire.bytes))
            Issue.record("\(name) decoded bytes that are not UTF-8")
        } catch let error as InvalidTextField {
            #expect(error.problem == .invalidUTF8)
            #expect(error.messageName == name)
        } catch let error as MalformedMessage {
            #expect(error.messageName == name)
            #expect(name == HelloResponse.protobufName)
        } catch {
            Issue.record("\(name) threw \(error)")
        }
    }

    @Test("a Frame whose method is not UTF-8 is refused, naming the field")
    func invalidUTF8Method() {
        let wire = ProtoBytes().varint(1, 1).bytes(2, [0x61, 0xFE])
        #expect(throws: InvalidTextField(messageName: "leasehold.v1.Frame", field: "method", problem: .invalidUTF8)) {
            try Frame(decoding: ByteBuffer(bytes: wire.bytes))
        }
    }

    @Test("every Event.Kind decodes from its EventType number", arguments: Event.Kind.allCases)
    func knownEventTypes(_ kind: Event.Kind) throws {
        let wire = ProtoBytes().varint(1, 1).varint(2, UInt64(kind.rawValue))
        #expect(try Event(decoding: ByteBuffer(bytes: wire.bytes)).kind == kind)
    }

    private static func decodes<M: WireMessage & Hashable>(_ expected: M, from bytes: [UInt8]) throws -> Bool {
        try M(decoding: ByteBuffer(bytes: bytes)) == expected
    }
}
