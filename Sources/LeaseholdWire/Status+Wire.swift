import CLeaseholdProto
import CProtobufC
import LeaseholdCore
public import NIOCore

extension Status: WireMessage {
    public static let protobufName = "leasehold.v1.Status"

    public init(decoding buffer: ByteBuffer) throws {
        self = try unpack(
            buffer, name: Self.protobufName, unpack: { leasehold__v1__status__unpack(nil, $0, $1) },
            free: { leasehold__v1__status__free_unpacked($0, nil) }, read: Status.init(c:))
    }

    public func encode(into buffer: inout ByteBuffer) {
        withCArena { arena in
            var c = self.c(arena)
            pack(&c, into: &buffer, size: leasehold__v1__status__get_packed_size, pack: leasehold__v1__status__pack)
        }
    }

    init(c: Leasehold__V1__Status) {
        self.init(
            code: LeaseholdError.Code(rawValue: Int32(bitPattern: c.code.rawValue)),
            message: String(protobufC: c.message), holder: LockInfo.from(c.holder), highestToken: c.highest_token,
            compactRevision: c.compact_revision)
    }

    func c(_ arena: CArena) -> Leasehold__V1__Status {
        var c = Leasehold__V1__Status()
        leasehold__v1__status__init(&c)
        c.code = Leasehold__V1__Code(rawValue: UInt32(bitPattern: self.code.rawValue))
        c.message = self.message.isEmpty ? nil : arena.string(self.message)
        c.holder = self.holder.map { $0.cPointer(arena) }
        c.highest_token = self.highestToken
        c.compact_revision = self.compactRevision
        return c
    }
}
