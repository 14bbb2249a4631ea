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

    @Test("bytes fields keep NUL bytes; strings are C strings and end at an embedded NUL")
    func embeddedNUL() throws {
        #expect(try roundTrip(ResumeSessionRequest(sessionID: SessionID(1), secret: [0, 1, 0])).secret == [0, 1, 0])
        // protobuf-c's `char *` cannot carry a NUL: the encoder (strdup) and the decoder both stop at it, and the
        // decoder cannot tell. SPEC forbids NUL in keys, so the client must refuse such keys before encoding.
        #expect(try roundTrip(DescribeRequest(key: "a\u{0}b")).key == "a")
        let wire = ProtoBytes().bytes(1, [0x61, 0x00, 0x62])
        #expect(try DescribeRequest(decoding: ByteBuffer(bytes: wire.bytes)).key == "a")
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
        arguments: [0, 5, 255, 256, UInt64(UInt32.max), UInt64.max])
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
                ProtoBytes().string(6, "admin").bytes(6, [0xC3, 0x28])),
            GoldenCase(AcquireResponse(lock: nil), ProtoBytes().message(1, ProtoBytes().bytes(4, [0xED, 0xA0, 0x80]))),
            GoldenCase(WatchResponse(revision: 0), ProtoBytes().message(1, ProtoBytes().varint(2, 1).bytes(3, [0x80]))),
            GoldenCase(FencedReadRequest(resource: ""), ProtoBytes().bytes(1, [0xF8, 0x88, 0x80, 0x80, 0x80])),
        ])
    func invalidUTF8(_ golden: GoldenCase) {
        // `golden.message` only names the type; the bytes are the point.
        #expect(throws: MalformedMessage(messageName: type(of: golden.message).protobufName)) {
            try type(of: golden.message).init(decoding: ByteBuffer(bytes: golden.wire.bytes))
        }
    }

    @Test("a Frame whose method is not UTF-8 is malformed")
    func invalidUTF8Method() {
        let wire = ProtoBytes().varint(1, 1).bytes(2, [0x61, 0xFE])
        #expect(throws: MalformedMessage(messageName: "leasehold.v1.Frame")) {
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
