package import CLeaseholdProto
public import LeaseholdCore
public import NIOCore

extension WaiterInfo: WireMessage, CBridgedMessage {
    /// `leasehold.v1.Waiter`.
    public static let protobufName = "leasehold.v1.Waiter"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__waiter__init,
        leasehold__v1__waiter__get_packed_size,
        leasehold__v1__waiter__pack,
        leasehold__v1__waiter__unpack,
        leasehold__v1__waiter__free_unpacked
    )

    /// Decodes a `leasehold.v1.Waiter`.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__Waiter) throws {
        try self.init(
            sessionID: SessionID(c.session_id),
            owner: String(exactText: c.owner, field: "owner"),
            waitingSince: WallTime(millisecondsSince1970: c.waiting_since_ms)
        )
    }

    package func fill(_ c: inout Leasehold__V1__Waiter, arena: borrowing CArena) {
        c.session_id = self.sessionID.rawValue
        c.owner = arena.text(self.owner)
        c.waiting_since_ms = self.waitingSince.millisecondsSince1970
    }
}
