package import CLeaseholdProto
public import NIOCore

/// The first call on every connection: `leasehold.v1.HelloRequest`.
public struct HelloRequest: Hashable, Sendable {
    /// The protocol version the client speaks; ``LeaseholdMethod/protocolVersion``.
    public var protocolVersion: UInt32
    /// A free-form name of the client, for logs.
    public var clientName: String
    /// A bearer token, mapped to a principal by the server's auth file; empty for none.
    public var token: String

    /// Creates a request.
    /// - Parameters:
    ///   - protocolVersion: The protocol version the client speaks.
    ///   - clientName: A name for the server's logs.
    ///   - token: A bearer token, or empty.
    public init(
        protocolVersion: UInt32 = LeaseholdMethod.protocolVersion,
        clientName: String = "",
        token: String = ""
    ) {
        self.protocolVersion = protocolVersion
        self.clientName = clientName
        self.token = token
    }
}

/// The server's answer to ``HelloRequest``: `leasehold.v1.HelloResponse`.
public struct HelloResponse: Hashable, Sendable {
    /// The server's software version.
    public var serverVersion: String
    /// Identifies the server instance.
    public var serverID: String
    /// The protocol version the server speaks.
    public var protocolVersion: UInt32
    /// The largest frame body the server accepts, in bytes.
    public var maxFrameBytes: UInt32
    /// The principal the token mapped to (`anonymous` without an auth file).
    public var principal: String
    /// The principal's roles, such as `admin`.
    public var roles: [String]

    /// Creates a response.
    /// - Parameters:
    ///   - serverVersion: The server's software version.
    ///   - serverID: Identifies the server instance.
    ///   - protocolVersion: The protocol version the server speaks.
    ///   - maxFrameBytes: The largest frame body the server accepts.
    ///   - principal: Who the client is.
    ///   - roles: The principal's roles.
    public init(
        serverVersion: String,
        serverID: String,
        protocolVersion: UInt32 = LeaseholdMethod.protocolVersion,
        maxFrameBytes: UInt32,
        principal: String,
        roles: [String] = []
    ) {
        self.serverVersion = serverVersion
        self.serverID = serverID
        self.protocolVersion = protocolVersion
        self.maxFrameBytes = maxFrameBytes
        self.principal = principal
        self.roles = roles
    }
}

// MARK: - Wire

extension HelloRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.HelloRequest`.
    public static let protobufName = "leasehold.v1.HelloRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__hello_request__init,
        leasehold__v1__hello_request__get_packed_size,
        leasehold__v1__hello_request__pack,
        leasehold__v1__hello_request__unpack,
        leasehold__v1__hello_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__HelloRequest) throws {
        try self.init(
            protocolVersion: c.protocol_version,
            clientName: String(exactText: c.client_name, field: "client_name"),
            token: String(exactText: c.token, field: "token")
        )
    }

    package func fill(_ c: inout Leasehold__V1__HelloRequest, arena: borrowing CArena) {
        c.protocol_version = self.protocolVersion
        c.client_name = arena.text(self.clientName)
        c.token = arena.text(self.token)
    }
}

extension HelloResponse: WireMessage, CBridgedMessage {
    /// `leasehold.v1.HelloResponse`.
    public static let protobufName = "leasehold.v1.HelloResponse"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__hello_response__init,
        leasehold__v1__hello_response__get_packed_size,
        leasehold__v1__hello_response__pack,
        leasehold__v1__hello_response__unpack,
        leasehold__v1__hello_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__HelloResponse) throws {
        try self.init(
            serverVersion: String(protobufC: c.server_version),
            serverID: String(protobufC: c.server_id),
            protocolVersion: c.protocol_version,
            maxFrameBytes: c.max_frame_bytes,
            principal: String(protobufC: c.principal),
            roles: repeated(c.roles, count: c.n_roles)
        )
    }

    package func fill(_ c: inout Leasehold__V1__HelloResponse, arena: borrowing CArena) {
        c.server_version = arena.string(self.serverVersion)
        c.server_id = arena.string(self.serverID)
        c.protocol_version = self.protocolVersion
        c.max_frame_bytes = self.maxFrameBytes
        c.principal = arena.string(self.principal)
        (c.n_roles, c.roles) = arena.strings(self.roles)
    }
}
