package import CLeaseholdProto
public import LeaseholdCore
public import NIOCore

extension Event: WireMessage, CBridgedMessage {
    /// `leasehold.v1.Event`.
    public static let protobufName = "leasehold.v1.Event"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__event__init,
        leasehold__v1__event__get_packed_size,
        leasehold__v1__event__pack,
        leasehold__v1__event__unpack,
        leasehold__v1__event__free_unpacked
    )

    /// Decodes a `leasehold.v1.Event`.
    /// - Throws: ``MalformedMessage`` when the bytes are not one, or when its `type` is `EVENT_TYPE_UNSPECIFIED`
    ///   or a number this version does not know (proto3 enums are open, so protobuf-c lets any number through).
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__Event) throws {
        // `Kind`'s raw values are the wire's `EventType` numbers.
        guard let kind = UInt8(exactly: c.type.rawValue).flatMap(Kind.init(rawValue:)) else {
            throw MalformedMessage(messageName: Self.protobufName)
        }
        try self.init(
            revision: c.revision,
            kind: kind,
            key: String(exactText: c.key, field: "key"),
            sessionID: SessionID(c.session_id),
            fencingToken: c.fencing_token,
            owner: String(exactText: c.owner, field: "owner"),
            at: WallTime(millisecondsSince1970: c.at_ms)
        )
    }

    package func fill(_ c: inout Leasehold__V1__Event, arena: borrowing CArena) {
        c.revision = self.revision
        c.type = Leasehold__V1__EventType(rawValue: UInt32(self.kind.rawValue))
        c.key = arena.text(self.key)
        c.session_id = self.sessionID.rawValue
        c.fencing_token = self.fencingToken
        c.owner = arena.text(self.owner)
        c.at_ms = self.at.millisecondsSince1970
    }
}
