public import NIOCore

/// A protobuf message with a Swift value type on one side and protobuf-c on the other.
///
/// Each conformance converts between its C struct and the Swift value in one place; the C struct never leaves it.
public protocol WireMessage: Sendable {
    /// The fully qualified protobuf name, such as `leasehold.v1.AcquireRequest`.
    static var protobufName: String { get }

    /// Decodes the message from `buffer`'s readable bytes.
    /// - Throws: ``MalformedMessage`` when the bytes are not this message; ``InvalidTextField`` when a text field
    ///   (a key, a name…) holds a NUL or is not UTF-8.
    init(decoding buffer: ByteBuffer) throws

    /// Appends the encoded message to `buffer`.
    func encode(into buffer: inout ByteBuffer)
}

extension WireMessage {
    /// Encodes the message into a new buffer.
    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64)
        self.encode(into: &buffer)
        return buffer
    }
}

/// A message with no fields, for calls that need no request or response body.
public struct Empty: WireMessage, Hashable {
    public static let protobufName = "google.protobuf.Empty"
    public init() {}
    public init(decoding buffer: ByteBuffer) throws {}
    public func encode(into buffer: inout ByteBuffer) {}
}
