package import CLeaseholdProto
import LeaseholdCore
public import NIOCore

extension Status: WireMessage, CBridgedMessage {
    /// `leasehold.v1.Status`.
    public static let protobufName = "leasehold.v1.Status"
    package static let cFunctions = CMessageFunctions(
        leasehold__v1__status__init,
        leasehold__v1__status__get_packed_size,
        leasehold__v1__status__pack,
        leasehold__v1__status__unpack,
        leasehold__v1__status__free_unpacked
    )

    /// Decodes a `leasehold.v1.Status`.
    /// - Throws: ``MalformedMessage`` when the bytes are not one.
    public init(decoding buffer: ByteBuffer) throws { try self.init(unpacking: buffer) }

    /// Appends the encoded message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) { self.pack(into: &buffer) }

    package init(c: Leasehold__V1__Status) throws {
        try self.init(
            code: LeaseholdError.Code(rawValue: Int32(bitPattern: c.code.rawValue)),
            message: String(protobufC: c.message),
            holder: LockInfo.from(c.holder),
            highestToken: c.highest_token,
            compactRevision: c.compact_revision,
            leader: String(protobufC: c.leader)
        )
    }

    package func fill(_ c: inout Leasehold__V1__Status, arena: borrowing CArena) {
        c.code = Leasehold__V1__Code(rawValue: UInt32(bitPattern: self.code.rawValue))
        c.message = self.message.isEmpty ? nil : arena.string(self.message)
        c.holder = self.holder?.cPointer(arena)
        c.highest_token = self.highestToken
        c.compact_revision = self.compactRevision
        c.leader = self.leader.isEmpty ? nil : arena.string(self.leader)
    }
}
