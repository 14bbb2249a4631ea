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

/// A text field (a key, a prefix, a name, a token, a reason, the method) whose bytes are not UTF-8 without NUL.
///
/// Such a field is refused exactly as sent, never cut at the NUL or repaired, so two different byte strings can never
/// name one lock. A server answers a request carrying one with `INVALID_ARGUMENT` and ``description``.
public struct InvalidTextField: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with the bytes.
    public enum Problem: Hashable, Sendable {
        /// A NUL byte at this offset into the field.
        case containsNUL(offset: Int)
        /// Bytes that are not UTF-8.
        case invalidUTF8
    }

    /// The message that carried the field, such as `leasehold.v1.AcquireRequest`.
    public var messageName: String
    /// The field's name in the `.proto`, such as `key`.
    public var field: String
    public var problem: Problem

    public init(messageName: String = "", field: String, problem: Problem) {
        self.messageName = messageName
        self.field = field
        self.problem = problem
    }

    /// Says which field and what is wrong, such as "invalid key: a NUL byte at offset 1 (leasehold.v1.AcquireRequest)".
    public var description: String {
        let what: String
        switch self.problem {
        case .containsNUL(let offset): what = "a NUL byte at offset \(offset)"
        case .invalidUTF8: what = "not valid UTF-8"
        }
        let message = self.messageName.isEmpty ? "" : " (\(self.messageName))"
        return "invalid \(self.field): \(what)\(message)"
    }
}
