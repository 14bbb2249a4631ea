import LeaseholdCore
import NIOCore
import Testing

@testable import LeaseholdWire

extension Frame {
    /// The frame without its length prefix.
    var body: ByteBuffer {
        var buffer = ByteBuffer()
        self.encode(into: &buffer)
        return buffer
    }

    /// The frame with its 4-byte length prefix, as it travels.
    var prefixed: ByteBuffer {
        var buffer = ByteBuffer()
        self.encodeWithLengthPrefix(into: &buffer)
        return buffer
    }
}

@Suite("Frame")
struct FrameTests {
    static let frames: [Frame] = [
        Frame(callID: 0),
        Frame(
            callID: .max,
            method: LeaseholdMethod.acquire.name,
            payload: AcquireRequest(sessionID: SessionID(.max), key: Fixtures.text, wait: .seconds(30)).encoded(),
            timeout: .milliseconds(1_500)
        ),
        Frame(
            callID: 42,
            payload: AcquireResponse(lock: Fixtures.maxLock).encoded(),
            status: Status(code: .lockHeld, message: "held by ops", holder: Fixtures.maxLock)
        ),
        Frame(callID: 3, status: Status(code: .staleFencingToken, message: Fixtures.text, highestToken: .max)),
        Frame(callID: 4, status: Status(code: .compacted, compactRevision: 99)),
        Frame(callID: 5, status: .ok),
        Frame.cancel(callID: 6),
        Frame(callID: 7, flags: Frame.Flags(rawValue: .max), timeout: Fixtures.maxDuration),
        Frame(callID: 8, payload: ByteBuffer(bytes: Fixtures.everyByte)),
        Frame(callID: 9, payload: ByteBuffer(repeating: 0, count: 100_000)),
    ]

    @Test("frames round-trip with payload, status, holder, flags and timeout", arguments: frames)
    func roundTrip(_ frame: Frame) throws {
        #expect(try Frame(decoding: frame.body) == frame)
    }

    @Test("the length prefix is the 4-byte big-endian body length", arguments: frames)
    func lengthPrefix(_ frame: Frame) {
        var prefixed = frame.prefixed
        let length = prefixed.readInteger(as: UInt32.self)
        #expect(length.map(Int.init) == frame.body.readableBytes)
        #expect(prefixed == frame.body)
    }

    @Test("the fields carry the spec's numbers")
    func golden() {
        let frame = Frame(
            callID: 1,
            method: "m",
            payload: ByteBuffer(bytes: [9]),
            status: Fixtures.goldenStatus,
            flags: .cancel,
            timeout: .milliseconds(4)
        )
        let wire = ProtoBytes().varint(1, 1).string(2, "m").bytes(3, [9]).message(4, Fixtures.goldenStatusWire)
            .varint(5, 1).varint(6, 4)
        #expect(Array(frame.body.readableBytesView) == wire.bytes)
    }

    @Test("a payload decodes as the message it carries")
    func payload() throws {
        let request = WatchRequest(prefix: "jobs/", startRevision: 17)
        let frame = try Frame(
            decoding: Frame(callID: 1, method: LeaseholdMethod.watch.name, payload: request.encoded()).body
        )
        #expect(try WatchRequest(decoding: frame.payload) == request)
    }

    @Test("the payload is read where it lies among other and unknown fields; of two payload fields, the last counts")
    func payloadAmongFields() throws {
        let fixed64: [UInt8] = [(14 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8]
        let fixed32: [UInt8] = [(15 << 3) | 5, 1, 2, 3, 4]
        let cases: [(ProtoBytes, [UInt8])] = [
            (ProtoBytes().varint(1, 1).string(2, "m").bytes(3, [9, 8, 7]).varint(6, 4), [9, 8, 7]),
            // Unknown fields of every kind before it, and a status message after it.
            (
                ProtoBytes().raw(fixed64).varint(19, .max).bytes(22, [3, 3]).raw(fixed32).bytes(3, [1, 2])
                    .message(4, Fixtures.goldenStatusWire),
                [1, 2]
            ),
            (ProtoBytes().bytes(3, [1, 1, 1]).varint(1, 5).bytes(3, [2, 2]), [2, 2]),
            (ProtoBytes().bytes(3, Array(repeating: 0xaa, count: 300)), Array(repeating: 0xaa, count: 300)),
        ]
        for (wire, payload) in cases {
            // Inside a larger buffer, as a frame decoder's slice of a read is.
            var buffer = ByteBuffer(bytes: [0xff, 0xff])
            buffer.writeBytes(wire.bytes)
            buffer.writeBytes([0xee])
            let body = try #require(buffer.getSlice(at: 2, length: wire.bytes.count))
            #expect(Array(try Frame(decoding: body).payload.readableBytesView) == payload)
            // Found in place, not copied (a copy is what the decoder falls back to).
            let range = try #require(Frame.payloadRange(in: body))
            #expect(Array(Array(body.readableBytesView)[range]) == payload)
        }
    }

    @Test("a zero timeout is no timeout")
    func zeroTimeout() throws {
        #expect(try Frame(decoding: Frame(callID: 1, timeout: .zero).body).timeout == nil)
    }
}
