package import CLeaseholdProto
public import LeaseholdCore
public import NIOCore

extension LockInfo: WireMessage, CBridgedMessage {
    /// `leasehold.v1.LockInfo`.
    public static let protobufName = "leasehold.v1.LockInfo"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__lock_info__init,
        leasehold__v1__lock_info__get_packed_size,
        leasehold__v1__lock_info__pack,
        leasehold__v1__lock_info__unpack,
        leasehold__v1__lock_info__free_unpacked
    )

    /// Decodes a `leasehold.v1.LockInfo`.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__LockInfo) throws {
        try self.init(
            key: String(exactText: c.key, field: "key"),
            sessionID: SessionID(c.session_id),
            fencingToken: c.fencing_token,
            owner: String(exactText: c.owner, field: "owner"),
            acquiredAt: WallTime(millisecondsSince1970: c.acquired_at_ms),
            sessionTTL: Duration(wireMilliseconds: c.session_ttl_ms)
        )
    }

    package func fill(_ c: inout Leasehold__V1__LockInfo, arena: borrowing CArena) {
        c.key = arena.text(self.key)
        c.session_id = self.sessionID.rawValue
        c.fencing_token = self.fencingToken
        c.owner = arena.text(self.owner)
        c.acquired_at_ms = self.acquiredAt.millisecondsSince1970
        c.session_ttl_ms = self.sessionTTL.wireMilliseconds
    }
}
