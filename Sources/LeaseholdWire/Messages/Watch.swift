package import CLeaseholdProto
public import LeaseholdCore
public import NIOCore

/// Opens a stream of lock events under a key prefix: `leasehold.v1.WatchRequest`.
public struct WatchRequest: Hashable, Sendable {
    /// A byte prefix of the keys; empty matches every key.
    public var prefix: String
    /// The first revision wanted, inclusive (a client that saw `r` resumes with `r + 1`); `0` starts from now.
    public var startRevision: UInt64

    /// Creates a request.
    /// - Parameters:
    ///   - prefix: A byte prefix of the keys, or empty for all.
    ///   - startRevision: The first revision wanted, or `0` for events from now on.
    public init(prefix: String = "", startRevision: UInt64 = 0) {
        self.prefix = prefix
        self.startRevision = startRevision
    }
}

/// One item of a watch stream: `leasehold.v1.WatchResponse`.
public struct WatchResponse: Hashable, Sendable {
    /// Events in revision order.
    public var events: [Event]
    /// The server's revision when it sent the item.
    public var revision: UInt64

    /// Creates a stream item.
    /// - Parameters:
    ///   - events: Events in revision order.
    ///   - revision: The server's revision.
    public init(events: [Event] = [], revision: UInt64) {
        self.events = events
        self.revision = revision
    }
}

// MARK: - Wire

extension WatchRequest: WireMessage, CBridgedMessage {
    /// `leasehold.v1.WatchRequest`.
    public static let protobufName = "leasehold.v1.WatchRequest"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__watch_request__init,
        leasehold__v1__watch_request__get_packed_size,
        leasehold__v1__watch_request__pack,
        leasehold__v1__watch_request__unpack,
        leasehold__v1__watch_request__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__WatchRequest) throws {
        try self.init(prefix: String(exactText: c.prefix, field: "prefix"), startRevision: c.start_revision)
    }

    package func fill(_ c: inout Leasehold__V1__WatchRequest, arena: borrowing CArena) {
        c.prefix = arena.text(self.prefix)
        c.start_revision = self.startRevision
    }
}

extension WatchResponse: WireMessage, CBridgedMessage {
    /// `leasehold.v1.WatchResponse`.
    public static let protobufName = "leasehold.v1.WatchResponse"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__watch_response__init,
        leasehold__v1__watch_response__get_packed_size,
        leasehold__v1__watch_response__pack,
        leasehold__v1__watch_response__unpack,
        leasehold__v1__watch_response__free_unpacked
    )

    /// Decodes the message.
    /// - Throws: ``MalformedMessage`` when the bytes are not one, or when an event has an unknown type.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__WatchResponse) throws {
        try self.init(events: repeated(c.events, count: c.n_events, Event.init(c:)), revision: c.revision)
    }

    package func fill(_ c: inout Leasehold__V1__WatchResponse, arena: borrowing CArena) {
        (c.n_events, c.events) = arena.messages(self.events)
        c.revision = self.revision
    }
}
