package import CLeaseholdProto
public import LeaseholdCore
public import NIOCore

/// Takes a lock, or queues for it: `leasehold.v1.AcquireRequest`.
public struct AcquireRequest: Hashable, Sendable {
    /// The session that will hold the lock.
    public var sessionID: SessionID
    /// The key to lock.
    public var key: String
    /// How long to wait in the key's queue; ``Duration/zero`` is a try-lock that fails at once with `LOCK_HELD`.
    public var wait: Duration

    /// Creates a request.
    /// - Parameters:
    ///   - sessionID: The session that will hold the lock.
    ///   - key: The key to lock.
    ///   - wait: How long to wait; ``Duration/zero`` for a try-lock. Travels as whole milliseconds.
    public init(sessionID: SessionID, key: String, wait: Duration = .zero) {
        self.sessionID = sessionID
        self.key = key
        self.wait = wait
    }
}

/// The grant: `leasehold.v1.AcquireResponse`.
public struct AcquireResponse: Hashable, Sendable {
    /// The granted lock with its fencing token; `nil` only when the peer left the field out.
    public var lock: LockInfo?

    /// Creates a response.
    /// - Parameter lock: The granted lock.
    public init(lock: LockInfo?) { self.lock = lock }
}

/// Releases a held lock: `leasehold.v1.ReleaseRequest`.
public struct ReleaseRequest: Hashable, Sendable {
    /// The holding session.
    public var sessionID: SessionID
    /// The locked key.
    public var key: String
    /// The token of the grant being released.
    public var fencingToken: UInt64

    /// Creates a request.
    /// - Parameters:
    ///   - sessionID: The holding session.
    ///   - key: The locked key.
    ///   - fencingToken: The grant's token.
    public init(sessionID: SessionID, key: String, fencingToken: UInt64) {
        self.sessionID = sessionID
        self.key = key
        self.fencingToken = fencingToken
    }
}

/// The answer to ``ReleaseRequest``: `leasehold.v1.ReleaseResponse`.
public struct ReleaseResponse: Hashable, Sendable {
    /// The revision of the release.
    public var revision: UInt64

    /// Creates a response.
    /// - Parameter revision: The revision of the release.
    public init(revision: UInt64) { self.revision = revision }
}

/// Releases whoever holds a key; needs the `admin` role: `leasehold.v1.ForceReleaseRequest`.
public struct ForceReleaseRequest: Hashable, Sendable {
    /// The key to release.
    public var key: String
    /// Why, for the audit trail.
    public var reason: String

    /// Creates a request.
    /// - Parameters:
    ///   - key: The key to release.
    ///   - reason: Why.
    public init(key: String, reason: String = "") {
        self.key = key
        self.reason = reason
    }
}

/// The answer to ``ForceReleaseRequest``: `leasehold.v1.ForceReleaseResponse`.
public struct ForceReleaseResponse: Hashable, Sendable {
    /// The lock that was released.
    public var released: LockInfo?
    /// The revision of the force-release.
    public var revision: UInt64

    /// Creates a response.
    /// - Parameters:
    ///   - released: The lock that was released.
    ///   - revision: The revision of the force-release.
    public init(released: LockInfo?, revision: UInt64) {
        self.released = released
        self.revision = revision
    }
}

// MARK: - Wire

extension AcquireRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.AcquireRequest`.
    public static let protobufName = "leasehold.v1.AcquireRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__acquire_request__init,
        leasehold__v1__acquire_request__get_packed_size,
        leasehold__v1__acquire_request__pack,
        leasehold__v1__acquire_request__unpack,
        leasehold__v1__acquire_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__AcquireRequest) throws {
        try self.init(
            sessionID: SessionID(c.session_id),
            key: String(exactText: c.key, field: "key"),
            wait: Duration(wireMilliseconds: c.wait_timeout_ms)
        )
    }

    package func fill(_ c: inout Leasehold__V1__AcquireRequest, arena: borrowing CArena) {
        c.session_id = self.sessionID.rawValue
        c.key = arena.text(self.key)
        c.wait_timeout_ms = self.wait.wireMilliseconds
    }
}

extension AcquireResponse: WireMessage, CBridgedMessage {
    /// `leasehold.v1.AcquireResponse`.
    public static let protobufName = "leasehold.v1.AcquireResponse"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__acquire_response__init,
        leasehold__v1__acquire_response__get_packed_size,
        leasehold__v1__acquire_response__pack,
        leasehold__v1__acquire_response__unpack,
        leasehold__v1__acquire_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__AcquireResponse) throws { try self.init(lock: LockInfo.from(c.lock)) }

    package func fill(_ c: inout Leasehold__V1__AcquireResponse, arena: borrowing CArena) {
        c.lock = self.lock?.cPointer(arena)
    }
}

extension ReleaseRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.ReleaseRequest`.
    public static let protobufName = "leasehold.v1.ReleaseRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__release_request__init,
        leasehold__v1__release_request__get_packed_size,
        leasehold__v1__release_request__pack,
        leasehold__v1__release_request__unpack,
        leasehold__v1__release_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__ReleaseRequest) throws {
        try self.init(
            sessionID: SessionID(c.session_id),
            key: String(exactText: c.key, field: "key"),
            fencingToken: c.fencing_token
        )
    }

    package func fill(_ c: inout Leasehold__V1__ReleaseRequest, arena: borrowing CArena) {
        c.session_id = self.sessionID.rawValue
        c.key = arena.text(self.key)
        c.fencing_token = self.fencingToken
    }
}

extension ReleaseResponse: WireMessage, CBridgedMessage {
    /// `leasehold.v1.ReleaseResponse`.
    public static let protobufName = "leasehold.v1.ReleaseResponse"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__release_response__init,
        leasehold__v1__release_response__get_packed_size,
        leasehold__v1__release_response__pack,
        leasehold__v1__release_response__unpack,
        leasehold__v1__release_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__ReleaseResponse) { self.init(revision: c.revision) }

    package func fill(_ c: inout Leasehold__V1__ReleaseResponse, arena: borrowing CArena) { c.revision = self.revision }
}

extension ForceReleaseRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.ForceReleaseRequest`.
    public static let protobufName = "leasehold.v1.ForceReleaseRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__force_release_request__init,
        leasehold__v1__force_release_request__get_packed_size,
        leasehold__v1__force_release_request__pack,
        leasehold__v1__force_release_request__unpack,
        leasehold__v1__force_release_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__ForceReleaseRequest) throws {
        try self.init(key: String(exactText: c.key, field: "key"), reason: String(exactText: c.reason, field: "reason"))
    }

    package func fill(_ c: inout Leasehold__V1__ForceReleaseRequest, arena: borrowing CArena) {
        c.key = arena.text(self.key)
        c.reason = arena.text(self.reason)
    }
}

extension ForceReleaseResponse: WireMessage, CBridgedMessage {
    /// `leasehold.v1.ForceReleaseResponse`.
    public static let protobufName = "leasehold.v1.ForceReleaseResponse"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__force_release_response__init,
        leasehold__v1__force_release_response__get_packed_size,
        leasehold__v1__force_release_response__pack,
        leasehold__v1__force_release_response__unpack,
        leasehold__v1__force_release_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__ForceReleaseResponse) throws {
        try self.init(released: LockInfo.from(c.released), revision: c.revision)
    }

    package func fill(_ c: inout Leasehold__V1__ForceReleaseResponse, arena: borrowing CArena) {
        c.released = self.released?.cPointer(arena)
        c.revision = self.revision
    }
}
