/// A frame header announced more bytes than the peer accepts; the connection is answered with
/// `FRAME_TOO_LARGE` and closed, and the frame is never buffered.
public struct FrameTooLarge: Error, Hashable, Sendable {
    /// The announced length.
    public var length: Int
    /// The largest length accepted.
    public var maximum: Int
    public init(length: Int, maximum: Int) {
        self.length = length
        self.maximum = maximum
    }
}

/// Bytes that do not decode as the expected protobuf message.
public struct MalformedMessage: Error, Hashable, Sendable {
    /// The protobuf message that was expected, such as `leasehold.v1.Frame`.
    public var messageName: String
    public init(messageName: String) { self.messageName = messageName }
}
