package import CLeaseholdProto
public import LeaseholdCore
public import NIOCore

/// Opens a session: `leasehold.v1.OpenSessionRequest`, answered with ``SessionInfo``.
public struct OpenSessionRequest: Hashable, Sendable {
    /// The session's TTL; ``Duration/zero`` asks for the server's default (10 s).
    public var ttl: Duration
    /// A client-chosen name for the session.
    public var name: String

    /// Creates a request.
    /// - Parameters:
    ///   - ttl: The TTL, or ``Duration/zero`` for the default. Travels as whole milliseconds.
    ///   - name: A name for the session.
    public init(ttl: Duration = .zero, name: String = "") {
        self.ttl = ttl
        self.name = name
    }
}

/// Takes a session over on a new connection: `leasehold.v1.ResumeSessionRequest`, answered with ``SessionInfo``.
public struct ResumeSessionRequest: Hashable, Sendable {
    /// The session to resume.
    public var sessionID: SessionID
    /// The secret that ``SessionInfo/secret`` returned when the session was opened.
    public var secret: [UInt8]

    /// Creates a request.
    /// - Parameters:
    ///   - sessionID: The session to resume.
    ///   - secret: The session's secret.
    public init(sessionID: SessionID, secret: [UInt8]) {
        self.sessionID = sessionID
        self.secret = secret
    }
}

/// A session as `OpenSession` and `ResumeSession` return it: `leasehold.v1.SessionInfo`.
public struct SessionInfo: Hashable, Sendable {
    /// The session.
    public var sessionID: SessionID
    /// The session secret; only `OpenSession` returns it, empty otherwise.
    public var secret: [UInt8]
    /// The session's TTL.
    public var ttl: Duration
    /// The time left until the session expires without a keepalive.
    public var expiresIn: Duration
    /// The principal that opened the session.
    public var owner: String
    /// The locks the session holds (after `ResumeSession`).
    public var locks: [LockInfo]

    /// Creates a session description.
    /// - Parameters:
    ///   - sessionID: The session.
    ///   - secret: The session secret, or empty.
    ///   - ttl: The session's TTL.
    ///   - expiresIn: The time left until expiry.
    ///   - owner: The principal that opened the session.
    ///   - locks: The locks the session holds.
    public init(
        sessionID: SessionID,
        secret: [UInt8] = [],
        ttl: Duration,
        expiresIn: Duration,
        owner: String,
        locks: [LockInfo] = []
    ) {
        self.sessionID = sessionID
        self.secret = secret
        self.ttl = ttl
        self.expiresIn = expiresIn
        self.owner = owner
        self.locks = locks
    }
}

/// Proves a session alive: `leasehold.v1.KeepAliveRequest`.
public struct KeepAliveRequest: Hashable, Sendable {
    /// The session to keep alive.
    public var sessionID: SessionID

    /// Creates a request.
    /// - Parameter sessionID: The session to keep alive.
    public init(sessionID: SessionID) { self.sessionID = sessionID }
}

/// The answer to ``KeepAliveRequest``: `leasehold.v1.KeepAliveResponse`.
public struct KeepAliveResponse: Hashable, Sendable {
    /// The session's TTL.
    public var ttl: Duration
    /// The time left until the session expires without another keepalive.
    public var expiresIn: Duration

    /// Creates a response.
    /// - Parameters:
    ///   - ttl: The session's TTL.
    ///   - expiresIn: The time left until expiry.
    public init(ttl: Duration, expiresIn: Duration) {
        self.ttl = ttl
        self.expiresIn = expiresIn
    }
}

/// Closes a session and releases its locks: `leasehold.v1.CloseSessionRequest`.
public struct CloseSessionRequest: Hashable, Sendable {
    /// The session to close.
    public var sessionID: SessionID

    /// Creates a request.
    /// - Parameter sessionID: The session to close.
    public init(sessionID: SessionID) { self.sessionID = sessionID }
}

/// The answer to ``CloseSessionRequest``: `leasehold.v1.CloseSessionResponse`.
public struct CloseSessionResponse: Hashable, Sendable {
    /// How many locks the close released.
    public var released: UInt32

    /// Creates a response.
    /// - Parameter released: How many locks the close released.
    public init(released: UInt32 = 0) { self.released = released }
}

// MARK: - Wire

extension OpenSessionRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.OpenSessionRequest`.
    public static let protobufName = "leasehold.v1.OpenSessionRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__open_session_request__init,
        leasehold__v1__open_session_request__get_packed_size,
        leasehold__v1__open_session_request__pack,
        leasehold__v1__open_session_request__unpack,
        leasehold__v1__open_session_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__OpenSessionRequest) throws {
        try self.init(ttl: Duration(wireMilliseconds: c.ttl_ms), name: String(exactText: c.name, field: "name"))
    }

    package func fill(_ c: inout Leasehold__V1__OpenSessionRequest, arena: borrowing CArena) {
        c.ttl_ms = self.ttl.wireMilliseconds
        c.name = arena.text(self.name)
    }
}

extension ResumeSessionRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.ResumeSessionRequest`.
    public static let protobufName = "leasehold.v1.ResumeSessionRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__resume_session_request__init,
        leasehold__v1__resume_session_request__get_packed_size,
        leasehold__v1__resume_session_request__pack,
        leasehold__v1__resume_session_request__unpack,
        leasehold__v1__resume_session_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__ResumeSessionRequest) {
        self.init(sessionID: SessionID(c.session_id), secret: [UInt8](protobufC: c.secret))
    }

    package func fill(_ c: inout Leasehold__V1__ResumeSessionRequest, arena: borrowing CArena) {
        c.session_id = self.sessionID.rawValue
        c.secret = arena.bytes(self.secret)
    }
}

extension SessionInfo: WireMessage, CBridgedMessage {
    /// `leasehold.v1.SessionInfo`.
    public static let protobufName = "leasehold.v1.SessionInfo"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__session_info__init,
        leasehold__v1__session_info__get_packed_size,
        leasehold__v1__session_info__pack,
        leasehold__v1__session_info__unpack,
        leasehold__v1__session_info__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__SessionInfo) throws {
        try self.init(
            sessionID: SessionID(c.session_id),
            secret: [UInt8](protobufC: c.secret),
            ttl: Duration(wireMilliseconds: c.ttl_ms),
            expiresIn: Duration(wireMilliseconds: c.expires_in_ms),
            owner: String(exactText: c.owner, field: "owner"),
            locks: repeated(c.locks, count: c.n_locks, LockInfo.init(c:))
        )
    }

    package func fill(_ c: inout Leasehold__V1__SessionInfo, arena: borrowing CArena) {
        c.session_id = self.sessionID.rawValue
        c.secret = arena.bytes(self.secret)
        c.ttl_ms = self.ttl.wireMilliseconds
        c.expires_in_ms = self.expiresIn.wireMilliseconds
        c.owner = arena.text(self.owner)
        (c.n_locks, c.locks) = arena.messages(self.locks)
    }
}

extension KeepAliveRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.KeepAliveRequest`.
    public static let protobufName = "leasehold.v1.KeepAliveRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__keep_alive_request__init,
        leasehold__v1__keep_alive_request__get_packed_size,
        leasehold__v1__keep_alive_request__pack,
        leasehold__v1__keep_alive_request__unpack,
        leasehold__v1__keep_alive_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__KeepAliveRequest) { self.init(sessionID: SessionID(c.session_id)) }

    package func fill(_ c: inout Leasehold__V1__KeepAliveRequest, arena: borrowing CArena) {
        c.session_id = self.sessionID.rawValue
    }
}

extension KeepAliveResponse: WireMessage, CBridgedMessage {
    /// `leasehold.v1.KeepAliveResponse`.
    public static let protobufName = "leasehold.v1.KeepAliveResponse"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__keep_alive_response__init,
        leasehold__v1__keep_alive_response__get_packed_size,
        leasehold__v1__keep_alive_response__pack,
        leasehold__v1__keep_alive_response__unpack,
        leasehold__v1__keep_alive_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__KeepAliveResponse) {
        self.init(ttl: Duration(wireMilliseconds: c.ttl_ms), expiresIn: Duration(wireMilliseconds: c.expires_in_ms))
    }

    package func fill(_ c: inout Leasehold__V1__KeepAliveResponse, arena: borrowing CArena) {
        c.ttl_ms = self.ttl.wireMilliseconds
        c.expires_in_ms = self.expiresIn.wireMilliseconds
    }
}

extension CloseSessionRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.CloseSessionRequest`.
    public static let protobufName = "leasehold.v1.CloseSessionRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__close_session_request__init,
        leasehold__v1__close_session_request__get_packed_size,
        leasehold__v1__close_session_request__pack,
        leasehold__v1__close_session_request__unpack,
        leasehold__v1__close_session_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__CloseSessionRequest) { self.init(sessionID: SessionID(c.session_id)) }

    package func fill(_ c: inout Leasehold__V1__CloseSessionRequest, arena: borrowing CArena) {
        c.session_id = self.sessionID.rawValue
    }
}

extension CloseSessionResponse: WireMessage, CBridgedMessage {
    /// `leasehold.v1.CloseSessionResponse`.
    public static let protobufName = "leasehold.v1.CloseSessionResponse"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__close_session_response__init,
        leasehold__v1__close_session_response__get_packed_size,
        leasehold__v1__close_session_response__pack,
        leasehold__v1__close_session_response__unpack,
        leasehold__v1__close_session_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__CloseSessionResponse) { self.init(released: c.released) }

    package func fill(_ c: inout Leasehold__V1__CloseSessionResponse, arena: borrowing CArena) {
        c.released = self.released
    }
}
