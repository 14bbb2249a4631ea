import LeaseholdWire
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite("FrameDecoder")
struct FrameDecoderTests {
    @Test("the verifier's byte-by-byte, coalesced and reordered feeds decode the same frames")
    func verifier() throws {
        // The verifier re-feeds every input one byte at a time; the 100 kB frame would only make that slow.
        let frames = FrameTests.frames.filter { $0.body.readableBytes < 4_096 }
        let pairs = frames.map { ($0.prefixed, [$0]) }
        var all = ByteBuffer()
        for frame in frames { frame.encodeWithLengthPrefix(into: &all) }
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: pairs + [(all, frames)],
            decoderFactory: { FrameDecoder() }
        )
    }

    @Test("two frames in one read and one frame in three reads come out whole")
    func channel() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        let first = FrameTests.frames[2]
        let second = FrameTests.frames[1]

        var both = first.prefixed
        both.writeImmutableBuffer(second.prefixed)
        try channel.writeInbound(both)
        #expect(try channel.readInbound(as: Frame.self) == first)
        #expect(try channel.readInbound(as: Frame.self) == second)
        #expect(try channel.readInbound(as: Frame.self) == nil)

        var whole = second.prefixed
        for length in [2, whole.readableBytes / 2 - 2] {
            try channel.writeInbound(whole.readSlice(length: length)!)
            #expect(try channel.readInbound(as: Frame.self) == nil)
        }
        try channel.writeInbound(whole)
        #expect(try channel.readInbound(as: Frame.self) == second)
        #expect(try channel.finish().isClean)
    }

    @Test(
        "a header announcing too much is refused after its 4 bytes, before any body arrives",
        arguments: [0x8000_0000, UInt32.max, (1 << 20) + 1] as [UInt32]
    )
    func tooLargeOnChannel(_ announced: UInt32) throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        var header = ByteBuffer()
        header.writeInteger(announced)
        for _ in 0..<3 {
            try channel.writeInbound(header.readSlice(length: 1)!)
            #expect(try channel.readInbound(as: Frame.self) == nil)
        }
        #expect(throws: FrameTooLarge(length: Int(announced), maximum: 1 << 20)) {
            try channel.writeInbound(header)
        }
        _ = try? channel.finish()
    }

    @Test("an oversized header is refused without reserving room for its body")
    func tooLargeDoesNotAllocate() {
        var buffer = ByteBufferAllocator().buffer(capacity: 4)
        buffer.writeInteger(UInt32(0x8000_0000))
        let capacity = buffer.capacity
        var decoder = FrameDecoder()
        #expect(throws: FrameTooLarge(length: 0x8000_0000, maximum: 1 << 20)) {
            try decoder.decode(buffer: &buffer)
        }
        #expect(buffer.capacity == capacity)
        #expect(buffer.readableBytes == 4)
    }

    @Test("a frame exactly at the limit is accepted; one byte more is refused")
    func exactlyAtLimit() throws {
        // Payload length chosen so that tag (1) + length varint (3) + payload is exactly 1 MiB.
        let frame = Frame(callID: 0, payload: ByteBuffer(repeating: 0xAB, count: (1 << 20) - 4))
        #expect(frame.body.readableBytes == 1 << 20)

        let accepting = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        try accepting.writeInbound(frame.prefixed)
        #expect(try accepting.readInbound(as: Frame.self) == frame)
        #expect(try accepting.finish().isClean)

        var decoder = FrameDecoder(maximumFrameLength: (1 << 20) - 1)
        var buffer = frame.prefixed
        #expect(throws: FrameTooLarge(length: 1 << 20, maximum: (1 << 20) - 1)) {
            try decoder.decode(buffer: &buffer)
        }
    }

    @Test("what FrameEncoder writes, FrameDecoder reads back", arguments: FrameTests.frames)
    func encoderToDecoder(_ frame: Frame) throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            MessageToByteHandler(FrameEncoder()), ByteToMessageHandler(FrameDecoder()),
        ])
        try channel.writeOutbound(frame)
        let bytes = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(bytes == frame.prefixed)
        try channel.writeInbound(bytes)
        #expect(try channel.readInbound(as: Frame.self) == frame)
        #expect(try channel.finish().isClean)
    }

    @Test("an empty frame (length 0) decodes as call 0 with nothing set")
    func emptyFrame() throws {
        var decoder = FrameDecoder()
        var buffer = ByteBuffer(bytes: [0, 0, 0, 0])
        #expect(try decoder.decode(buffer: &buffer) == Frame(callID: 0))
        #expect(buffer.readableBytes == 0)
    }

    @Test(
        "a body that is not a Frame throws MalformedMessage",
        arguments: [
            [0x08],  // truncated varint
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],  // over-long varint tag
            [0x12, 0x05, 0x61],  // method longer than the body
            [0x0A, 0x01, 0x00],  // call_id with the wrong wire type
            [0x22, 0x02, 0xFF, 0xFF],  // status whose bytes are not a Status
            [0x00, 0x00],  // field number 0
            [0x0B],  // start-group, a wire type proto3 does not use
        ] as [[UInt8]]
    )
    func malformed(_ body: [UInt8]) {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(body.count))
        buffer.writeBytes(body)
        #expect(throws: MalformedMessage(messageName: "leasehold.v1.Frame")) {
            try channel.writeInbound(buffer)
        }
        _ = try? channel.finish()
    }

    @Test("a known method is read as the known string and numbered by its place; others are not numbered")
    func knownMethods() throws {
        let known = ["a.B/Hello", "a.B/Acquire", "a.B/Acquirf"]
        var decoder = FrameDecoder(knownMethods: known)
        for (method, index) in [("a.B/Acquirf", 2), ("a.B/Hello", 0), ("a.B/Acquir", nil), ("", nil), ("x/y", nil)] {
            let sent = Frame(callID: 7, method: method, payload: ByteBuffer(bytes: [1, 2]))
            var buffer = sent.prefixed
            let frame = try #require(try decoder.decode(buffer: &buffer))
            #expect(frame.method == method)
            #expect(frame.knownMethodIndex == index, "\(method)")
            // How the frame was read is not part of what it holds.
            #expect(frame == sent)
            #expect(frame.hashValue == sent.hashValue)
        }
        var plain = FrameDecoder()
        var buffer = Frame(callID: 1, method: "a.B/Hello").prefixed
        #expect(try plain.decode(buffer: &buffer)?.knownMethodIndex == nil)
    }
}
