public import NIOCore

/// Splits a byte stream into ``Frame``s: a 4-byte big-endian length, then that many bytes of `leasehold.v1.Frame`.
///
/// The length is checked against ``maximumFrameLength`` as soon as the 4-byte header has arrived, so an oversized
/// frame is refused before any of its body is buffered. Install it as
/// `ByteToMessageHandler(FrameDecoder(maximumFrameLength: maxFrameBytes))`.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Frame

    /// The largest frame body accepted, in bytes.
    public let maximumFrameLength: Int
    /// The method names read as these very strings (see ``Frame/init(decoding:knownMethods:)``).
    public let knownMethods: [String]

    /// Creates a decoder.
    /// - Parameters:
    ///   - maximumFrameLength: The largest frame body accepted (`max_frame_bytes`, 1 MiB by default).
    ///   - knownMethods: The method names a server serves, interned so that a call's method costs no allocation.
    public init(maximumFrameLength: Int = 1 << 20, knownMethods: [String] = []) {
        self.maximumFrameLength = maximumFrameLength
        self.knownMethods = knownMethods
    }

    /// Decodes one frame if a whole one is buffered.
    /// - Throws: ``FrameTooLarge`` as soon as a header announces too many bytes; ``MalformedMessage`` when a whole
    ///   frame does not decode; ``InvalidTextField`` when its method is not UTF-8 without NUL.
    public mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self).map(Int.init) else {
            return nil
        }
        guard length <= self.maximumFrameLength else {
            throw FrameTooLarge(length: length, maximum: self.maximumFrameLength)
        }
        guard buffer.readableBytes >= 4 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let body = buffer.readSlice(length: length)!
        return try Frame(decoding: body, knownMethods: self.knownMethods)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        try self.decode(buffer: &buffer)
    }
}

/// Writes each ``Frame`` with its 4-byte length prefix.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame
    public init() {}
    public func encode(data: Frame, out: inout ByteBuffer) throws {
        data.encodeWithLengthPrefix(into: &out)
    }
}
