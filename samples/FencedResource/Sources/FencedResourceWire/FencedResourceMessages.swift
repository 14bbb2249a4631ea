package import CFencedResourceProto
public import LeaseholdWire
public import NIOCore

/// Writes a resource under a fencing token: `fencedresource.v1.WriteRequest` (docs/protocol.md).
public struct FencedWriteRequest: Hashable, Sendable {
    /// The resource to write.
    public var resource: String
    /// The writer's fencing token; refused with `STALE_FENCING_TOKEN` when lower than the highest accepted one.
    public var fencingToken: UInt64
    /// The new contents.
    public var data: [UInt8]
    /// The lock key the token was granted on, so the resource can `Validate` it with the lock server.
    public var lockKey: String

    /// Creates a request.
    /// - Parameters:
    ///   - resource: The resource to write.
    ///   - fencingToken: The writer's fencing token.
    ///   - data: The new contents.
    ///   - lockKey: The key the token was granted on.
    public init(resource: String, fencingToken: UInt64, data: [UInt8] = [], lockKey: String) {
        self.resource = resource
        self.fencingToken = fencingToken
        self.data = data
        self.lockKey = lockKey
    }
}

/// The answer to ``FencedWriteRequest``: `fencedresource.v1.WriteResponse`.
public struct FencedWriteResponse: Hashable, Sendable {
    /// The resource's version after the write.
    public var version: UInt64
    /// The token the write was accepted with.
    public var acceptedToken: UInt64

    /// Creates a response.
    /// - Parameters:
    ///   - version: The resource's version after the write.
    ///   - acceptedToken: The accepted token.
    public init(version: UInt64, acceptedToken: UInt64) {
        self.version = version
        self.acceptedToken = acceptedToken
    }
}

/// Reads a resource: `fencedresource.v1.ReadRequest`.
public struct FencedReadRequest: Hashable, Sendable {
    /// The resource to read.
    public var resource: String

    /// Creates a request.
    /// - Parameter resource: The resource to read.
    public init(resource: String) { self.resource = resource }
}

/// The answer to ``FencedReadRequest``: `fencedresource.v1.ReadResponse`.
public struct FencedReadResponse: Hashable, Sendable {
    /// The contents.
    public var data: [UInt8]
    /// The resource's version.
    public var version: UInt64
    /// The highest fencing token the resource has accepted.
    public var highestToken: UInt64

    /// Creates a response.
    /// - Parameters:
    ///   - data: The contents.
    ///   - version: The resource's version.
    ///   - highestToken: The highest accepted token.
    public init(data: [UInt8] = [], version: UInt64, highestToken: UInt64) {
        self.data = data
        self.version = version
        self.highestToken = highestToken
    }
}

// MARK: - Wire

extension FencedWriteRequest: WireMessage, CBridgedMessage {
    /// `fencedresource.v1.WriteRequest`.
    public static let protobufName = "fencedresource.v1.WriteRequest"
    package static let cFunctions = CMessageFunctions(
        fencedresource__v1__write_request__init,
        fencedresource__v1__write_request__get_packed_size,
        fencedresource__v1__write_request__pack,
        fencedresource__v1__write_request__unpack,
        fencedresource__v1__write_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Fencedresource__V1__WriteRequest) throws {
        try self.init(
            resource: String(exactText: c.resource, field: "resource"),
            fencingToken: c.fencing_token,
            data: [UInt8](protobufC: c.data),
            lockKey: String(exactText: c.lock_key, field: "lock_key")
        )
    }

    package func fill(_ c: inout Fencedresource__V1__WriteRequest, arena: borrowing CArena) {
        c.resource = arena.text(self.resource)
        c.fencing_token = self.fencingToken
        c.data = arena.bytes(self.data)
        c.lock_key = arena.text(self.lockKey)
    }
}

extension FencedWriteResponse: WireMessage, CBridgedMessage {
    /// `fencedresource.v1.WriteResponse`.
    public static let protobufName = "fencedresource.v1.WriteResponse"
    package static let cFunctions = CMessageFunctions(
        fencedresource__v1__write_response__init,
        fencedresource__v1__write_response__get_packed_size,
        fencedresource__v1__write_response__pack,
        fencedresource__v1__write_response__unpack,
        fencedresource__v1__write_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Fencedresource__V1__WriteResponse) {
        self.init(version: c.version, acceptedToken: c.accepted_token)
    }

    package func fill(_ c: inout Fencedresource__V1__WriteResponse, arena: borrowing CArena) {
        c.version = self.version
        c.accepted_token = self.acceptedToken
    }
}

extension FencedReadRequest: WireMessage, CBridgedMessage {
    /// `fencedresource.v1.ReadRequest`.
    public static let protobufName = "fencedresource.v1.ReadRequest"
    package static let cFunctions = CMessageFunctions(
        fencedresource__v1__read_request__init,
        fencedresource__v1__read_request__get_packed_size,
        fencedresource__v1__read_request__pack,
        fencedresource__v1__read_request__unpack,
        fencedresource__v1__read_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Fencedresource__V1__ReadRequest) throws {
        try self.init(resource: String(exactText: c.resource, field: "resource"))
    }

    package func fill(_ c: inout Fencedresource__V1__ReadRequest, arena: borrowing CArena) {
        c.resource = arena.text(self.resource)
    }
}

extension FencedReadResponse: WireMessage, CBridgedMessage {
    /// `fencedresource.v1.ReadResponse`.
    public static let protobufName = "fencedresource.v1.ReadResponse"
    package static let cFunctions = CMessageFunctions(
        fencedresource__v1__read_response__init,
        fencedresource__v1__read_response__get_packed_size,
        fencedresource__v1__read_response__pack,
        fencedresource__v1__read_response__unpack,
        fencedresource__v1__read_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Fencedresource__V1__ReadResponse) {
        self.init(data: [UInt8](protobufC: c.data), version: c.version, highestToken: c.highest_token)
    }

    package func fill(_ c: inout Fencedresource__V1__ReadResponse, arena: borrowing CArena) {
        c.data = arena.bytes(self.data)
        c.version = self.version
        c.highest_token = self.highestToken
    }
}
