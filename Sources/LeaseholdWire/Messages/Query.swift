package import CLeaseholdProto
public import LeaseholdCore
public import NIOCore

/// Asks who holds a key and who waits for it: `leasehold.v1.DescribeRequest`.
public struct DescribeRequest: Hashable, Sendable {
    /// The key to describe.
    public var key: String

    /// Creates a request.
    /// - Parameter key: The key to describe.
    public init(key: String) { self.key = key }
}

/// The answer to ``DescribeRequest``: `leasehold.v1.DescribeResponse`. A free key is `held == false`, not an error.
public struct DescribeResponse: Hashable, Sendable {
    /// Whether the key is held.
    public var held: Bool
    /// The current holder, if any.
    public var lock: LockInfo?
    /// How many `Acquire` calls wait for the key.
    public var waiters: UInt32
    /// The waiters, in grant order.
    public var queue: [WaiterInfo]
    /// The server's revision when it answered.
    public var revision: UInt64

    /// Creates a response.
    /// - Parameters:
    ///   - held: Whether the key is held.
    ///   - lock: The current holder.
    ///   - waiters: How many calls wait for the key.
    ///   - queue: The waiters, in grant order.
    ///   - revision: The server's revision.
    public init(held: Bool, lock: LockInfo? = nil, waiters: UInt32 = 0, queue: [WaiterInfo] = [], revision: UInt64) {
        self.held = held
        self.lock = lock
        self.waiters = waiters
        self.queue = queue
        self.revision = revision
    }
}

/// Asks whether a fencing token is a key's current grant: `leasehold.v1.ValidateRequest`.
public struct ValidateRequest: Hashable, Sendable {
    /// The key the token was granted on.
    public var key: String
    /// The token to check.
    public var fencingToken: UInt64

    /// Creates a request.
    /// - Parameters:
    ///   - key: The key the token was granted on.
    ///   - fencingToken: The token to check.
    public init(key: String, fencingToken: UInt64) {
        self.key = key
        self.fencingToken = fencingToken
    }
}

/// The answer to ``ValidateRequest``: `leasehold.v1.ValidateResponse`.
public struct ValidateResponse: Hashable, Sendable {
    /// Whether the token is the key's current grant.
    public var valid: Bool
    /// The current holder, if any.
    public var lock: LockInfo?
    /// The server's revision when it answered.
    public var revision: UInt64

    /// Creates a response.
    /// - Parameters:
    ///   - valid: Whether the token is the key's current grant.
    ///   - lock: The current holder.
    ///   - revision: The server's revision.
    public init(valid: Bool, lock: LockInfo? = nil, revision: UInt64) {
        self.valid = valid
        self.lock = lock
        self.revision = revision
    }
}

/// Lists held locks under a key prefix: `leasehold.v1.ListRequest`.
public struct ListRequest: Hashable, Sendable {
    /// A byte prefix of the keys; empty matches every key.
    public var prefix: String
    /// The most locks to return; `0` means no limit.
    public var limit: UInt32

    /// Creates a request.
    /// - Parameters:
    ///   - prefix: A byte prefix of the keys, or empty for all.
    ///   - limit: The most locks to return, or `0` for no limit.
    public init(prefix: String = "", limit: UInt32 = 0) {
        self.prefix = prefix
        self.limit = limit
    }
}

/// The answer to ``ListRequest``: `leasehold.v1.ListResponse`.
public struct ListResponse: Hashable, Sendable {
    /// The held locks.
    public var locks: [LockInfo]
    /// The server's revision when it answered.
    public var revision: UInt64

    /// Creates a response.
    /// - Parameters:
    ///   - locks: The held locks.
    ///   - revision: The server's revision.
    public init(locks: [LockInfo] = [], revision: UInt64) {
        self.locks = locks
        self.revision = revision
    }
}

// MARK: - Wire

extension DescribeRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.DescribeRequest`.
    public static let protobufName = "leasehold.v1.DescribeRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__describe_request__init,
        leasehold__v1__describe_request__get_packed_size,
        leasehold__v1__describe_request__pack,
        leasehold__v1__describe_request__unpack,
        leasehold__v1__describe_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__DescribeRequest) throws {
        try self.init(key: String(exactText: c.key, field: "key"))
    }

    package func fill(_ c: inout Leasehold__V1__DescribeRequest, arena: borrowing CArena) {
        c.key = arena.text(self.key)
    }
}

extension DescribeResponse: WireMessage, CBridgedMessage {
    /// `leasehold.v1.DescribeResponse`.
    public static let protobufName = "leasehold.v1.DescribeResponse"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__describe_response__init,
        leasehold__v1__describe_response__get_packed_size,
        leasehold__v1__describe_response__pack,
        leasehold__v1__describe_response__unpack,
        leasehold__v1__describe_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__DescribeResponse) throws {
        try self.init(
            held: Bool(protobufC: c.held),
            lock: LockInfo.from(c.lock),
            waiters: c.waiters,
            queue: repeated(c.queue, count: c.n_queue, WaiterInfo.init(c:)),
            revision: c.revision
        )
    }

    package func fill(_ c: inout Leasehold__V1__DescribeResponse, arena: borrowing CArena) {
        c.held = self.held.protobufC
        c.lock = self.lock?.cPointer(arena)
        c.waiters = self.waiters
        (c.n_queue, c.queue) = arena.messages(self.queue)
        c.revision = self.revision
    }
}

extension ValidateRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.ValidateRequest`.
    public static let protobufName = "leasehold.v1.ValidateRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__validate_request__init,
        leasehold__v1__validate_request__get_packed_size,
        leasehold__v1__validate_request__pack,
        leasehold__v1__validate_request__unpack,
        leasehold__v1__validate_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__ValidateRequest) throws {
        try self.init(key: String(exactText: c.key, field: "key"), fencingToken: c.fencing_token)
    }

    package func fill(_ c: inout Leasehold__V1__ValidateRequest, arena: borrowing CArena) {
        c.key = arena.text(self.key)
        c.fencing_token = self.fencingToken
    }
}

extension ValidateResponse: WireMessage, CBridgedMessage {
    /// `leasehold.v1.ValidateResponse`.
    public static let protobufName = "leasehold.v1.ValidateResponse"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__validate_response__init,
        leasehold__v1__validate_response__get_packed_size,
        leasehold__v1__validate_response__pack,
        leasehold__v1__validate_response__unpack,
        leasehold__v1__validate_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__ValidateResponse) throws {
        try self.init(valid: Bool(protobufC: c.valid), lock: LockInfo.from(c.lock), revision: c.revision)
    }

    package func fill(_ c: inout Leasehold__V1__ValidateResponse, arena: borrowing CArena) {
        c.valid = self.valid.protobufC
        c.lock = self.lock?.cPointer(arena)
        c.revision = self.revision
    }
}

extension ListRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.ListRequest`.
    public static let protobufName = "leasehold.v1.ListRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__list_request__init,
        leasehold__v1__list_request__get_packed_size,
        leasehold__v1__list_request__pack,
        leasehold__v1__list_request__unpack,
        leasehold__v1__list_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__ListRequest) throws {
        try self.init(prefix: String(exactText: c.prefix, field: "prefix"), limit: c.limit)
    }

    package func fill(_ c: inout Leasehold__V1__ListRequest, arena: borrowing CArena) {
        c.prefix = arena.text(self.prefix)
        c.limit = self.limit
    }
}

extension ListResponse: WireMessage, CBridgedMessage {
    /// `leasehold.v1.ListResponse`.
    public static let protobufName = "leasehold.v1.ListResponse"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__list_response__init,
        leasehold__v1__list_response__get_packed_size,
        leasehold__v1__list_response__pack,
        leasehold__v1__list_response__unpack,
        leasehold__v1__list_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__ListResponse) throws {
        try self.init(locks: repeated(c.locks, count: c.n_locks, LockInfo.init(c:)), revision: c.revision)
    }

    package func fill(_ c: inout Leasehold__V1__ListResponse, arena: borrowing CArena) {
        (c.n_locks, c.locks) = arena.messages(self.locks)
        c.revision = self.revision
    }
}
