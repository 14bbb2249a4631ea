import CLeaseholdProto
import CProtobufC
public import LeaseholdCore
public import NIOCore

extension LockInfo: WireMessage {
    public static let protobufName = "leasehold.v1.LockInfo"

    public init(decoding buffer: ByteBuffer) throws {
        self = try unpack(
            buffer, name: Self.protobufName, unpack: { leasehold__v1__lock_info__unpack(nil, $0, $1) },
            free: { leasehold__v1__lock_info__free_unpacked($0, nil) }, read: LockInfo.init(c:))
    }

    public func encode(into buffer: inout ByteBuffer) {
        withCArena { arena in
            var c = self.c(arena)
            pack(
                &c, into: &buffer, size: leasehold__v1__lock_info__get_packed_size,
                pack: leasehold__v1__lock_info__pack)
        }
    }

    init(c: Leasehold__V1__LockInfo) {
        self.init(
            key: String(protobufC: c.key), sessionID: SessionID(c.session_id), fencingToken: c.fencing_token,
            owner: String(protobufC: c.owner), acquiredAt: WallTime(millisecondsSince1970: c.acquired_at_ms),
            sessionTTL: Duration(wireMilliseconds: c.session_ttl_ms))
    }

    func c(_ arena: CArena) -> Leasehold__V1__LockInfo {
        var c = Leasehold__V1__LockInfo()
        leasehold__v1__lock_info__init(&c)
        c.key = arena.string(self.key)
        c.session_id = self.sessionID.rawValue
        c.fencing_token = self.fencingToken
        c.owner = arena.string(self.owner)
        c.acquired_at_ms = self.acquiredAt.millisecondsSince1970
        c.session_ttl_ms = self.sessionTTL.wireMilliseconds
        return c
    }

    /// A pointer to a C copy owned by `arena`, for message fields.
    func cPointer(_ arena: CArena) -> UnsafeMutablePointer<Leasehold__V1__LockInfo> {
        let value = self.c(arena)
        return arena.object { $0.initialize(to: value) }
    }

    /// Reads an optional message field.
    static func from(_ pointer: UnsafeMutablePointer<Leasehold__V1__LockInfo>?) -> LockInfo? {
        pointer.map { LockInfo(c: $0.pointee) }
    }
}
