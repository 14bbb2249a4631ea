package import CLeaseholdProto
package import CProtobufC
package import NIOCore

/// The five generated protobuf-c functions of one message struct `C` (`*_init`, `*_get_packed_size`, `*_pack`,
/// `*_unpack`, `*_free_unpacked`).
///
/// Going through the typed functions keeps every descriptor address on the C side (STYLE.md §8).
package struct CMessageFunctions<C>: Sendable {
    package typealias Initialize = @Sendable (UnsafeMutablePointer<C>) -> Void
    package typealias PackedSize = @Sendable (UnsafePointer<C>) -> Int
    package typealias Pack = @Sendable (UnsafePointer<C>, UnsafeMutablePointer<UInt8>) -> Int
    package typealias Allocator = UnsafeMutablePointer<ProtobufCAllocator>
    package typealias Unpack = @Sendable (Allocator?, Int, UnsafePointer<UInt8>) -> UnsafeMutablePointer<C>?
    package typealias Free = @Sendable (UnsafeMutablePointer<C>, Allocator?) -> Void

    package let initialize: Initialize
    package let packedSize: PackedSize
    package let pack: Pack
    package let unpack: Unpack
    package let free: Free

    /// Collects the functions, in the order the generated header declares them.
    package init(
        _ initialize: @escaping Initialize,
        _ packedSize: @escaping PackedSize,
        _ pack: @escaping Pack,
        _ unpack: @escaping Unpack,
        _ free: @escaping Free
    ) {
        self.initialize = initialize
        self.packedSize = packedSize
        self.pack = pack
        self.unpack = unpack
        self.free = free
    }
}

/// A ``WireMessage`` whose wire form is one protobuf-c struct.
///
/// A conformance names its generated functions and converts fields in two short functions, `init(c:)` and
/// `fill(_:arena:)`; packing, unpacking, freeing and nested/repeated message fields come from this extension. The
/// public ``WireMessage`` requirements forward to ``init(unpacking:)`` and ``pack(into:)`` in one line each.
package protocol CBridgedMessage: WireMessage {
    /// The generated C struct, such as `Leasehold__V1__AcquireRequest`.
    associatedtype CMessage

    /// The struct's generated functions.
    static var cFunctions: CMessageFunctions<CMessage> { get }

    /// Copies the fields out of a struct that protobuf-c unpacked (or that ``fill(_:arena:)`` filled).
    /// - Throws: ``MalformedMessage`` when a field holds a value the Swift type cannot represent.
    init(c: CMessage) throws

    /// Sets the fields of an initialised struct. Whatever the fields point to must come from `arena`.
    func fill(_ c: inout CMessage, arena: borrowing CArena)
}

extension CBridgedMessage {
    /// Decodes `buffer`'s readable bytes with the generated `*_unpack`, then frees the C struct.
    /// - Throws: ``MalformedMessage`` when protobuf-c refuses the bytes or ``init(c:)`` refuses a field.
    package init(unpacking buffer: ByteBuffer) throws {
        let functions = Self.cFunctions
        self = try unpack(
            buffer,
            name: Self.protobufName,
            unpack: { functions.unpack($0, $1, $2) },
            free: { functions.free($0, $1) },
            read: Self.init(c:)
        )
    }

    /// Appends the message packed by the generated `*_pack`.
    package func pack(into buffer: inout ByteBuffer) {
        withCArena { arena in
            var c = self.c(arena)
            LeaseholdWire.pack(&c, into: &buffer, size: Self.cFunctions.packedSize, pack: Self.cFunctions.pack)
        }
    }

    /// An initialised, filled C struct whose pointers are owned by `arena`.
    package func c(_ arena: borrowing CArena) -> CMessage {
        self.cPointer(arena).pointee
    }

    /// A pointer to a C copy owned by `arena`, for message fields.
    package func cPointer(_ arena: borrowing CArena) -> UnsafeMutablePointer<CMessage> {
        let pointer = arena.object(Self.cFunctions.initialize)
        self.fill(&pointer.pointee, arena: arena)
        return pointer
    }

    /// Reads an optional message field; `NULL` is `nil`.
    package static func from(_ pointer: UnsafeMutablePointer<CMessage>?) throws -> Self? {
        try pointer.map { try Self(c: $0.pointee) }
    }
}
