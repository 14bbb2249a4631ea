package import CLeaseholdProto
package import CProtobufC
import Foundation
package import NIOCore

/// Holds the C memory (strings, byte arrays, structs, pointer arrays) that one message conversion lends to
/// protobuf-c.
///
/// Memory comes from a region on the stack of ``withCArena(_:)`` while it fits and from `malloc` beyond it; all of it
/// is given back when that closure returns. Packing or unpacking a frame or a small message costs no heap allocation
/// here.
///
/// The arena is noncopyable and only ever lent (`borrowing`), so the type system keeps it inside its closure: it
/// cannot be stored, returned or captured by an escaping closure. The raw pointers it hands out are C memory that
/// the language cannot track; they go straight into the struct being packed or unpacked in the same closure.
package struct CArena: ~Copyable {
    /// Bytes of stack per arena: below the size Swift always places on the stack, and enough for a frame's status
    /// and method or a lock's strings (a large message, such as a `List` answer, spills to `malloc`).
    static let stackBytes = 1_024

    /// The region and the blocks that did not fit in it, each starting with the address of the previous one.
    package struct State {
        let base: UnsafeMutableRawPointer
        let capacity: Int
        var used = 0
        var spilled: UnsafeMutableRawPointer?
    }

    /// A spilled block's header: the previous block's address, padded to keep the memory after it 16-byte aligned.
    private static let headerBytes = 16

    private let state: UnsafeMutablePointer<State>

    package init(_ state: UnsafeMutablePointer<State>) { self.state = state }

    /// `byteCount` bytes aligned to 16, valid until the arena's closure returns.
    private func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let start = (self.state.pointee.used + 15) & ~15
        if byteCount <= self.state.pointee.capacity - start {
            self.state.pointee.used = start + byteCount
            return self.state.pointee.base + start
        }
        let block = malloc(Self.headerBytes + byteCount)!
        block.storeBytes(of: self.state.pointee.spilled, as: UnsafeMutableRawPointer?.self)
        self.state.pointee.spilled = block
        return block + Self.headerBytes
    }

    /// Runs `body` with an allocator for protobuf-c's `*_unpack` and `*_free_unpacked` whose memory comes from this
    /// arena; its `free` does nothing, as everything goes when the arena does.
    package func withProtobufAllocator<R>(_ body: (UnsafeMutablePointer<ProtobufCAllocator>) throws -> R) rethrows -> R
    {
        var allocator = ProtobufCAllocator(
            alloc: { state, size in CArena(state!.assumingMemoryBound(to: State.self)).allocate(byteCount: size) },
            free: { _, _ in },
            allocator_data: UnsafeMutableRawPointer(self.state)
        )
        return try withUnsafeMutablePointer(to: &allocator) { try body($0) }
    }

    /// Frees what spilled to `malloc`.
    package static func freeSpilled(_ state: UnsafeMutablePointer<State>) {
        var next = state.pointee.spilled
        while let block = next {
            next = block.load(as: UnsafeMutableRawPointer?.self)
            free(block)
        }
        state.pointee.spilled = nil
    }

    /// A NUL-terminated copy of `string`.
    package func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let copy = self.allocate(byteCount: utf8.count + 1)
            if let source = utf8.baseAddress { copy.copyMemory(from: source, byteCount: utf8.count) }
            copy.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
            return copy.bindMemory(to: CChar.self, capacity: utf8.count + 1)
        }
    }

    /// The exact UTF-8 of `string` as protobuf-c's `bytes` value, for the text fields the protocol declares `bytes`
    /// (see ``Swift/String/init(exactText:field:)``). Nothing is cut at a NUL: the peer refuses one.
    package func text(_ string: String) -> ProtobufCBinaryData {
        var string = string
        return string.withUTF8 { utf8 in
            guard let source = utf8.baseAddress, utf8.count > 0 else { return ProtobufCBinaryData(len: 0, data: nil) }
            let copy = self.allocate(byteCount: utf8.count)
            copy.copyMemory(from: source, byteCount: utf8.count)
            return ProtobufCBinaryData(len: utf8.count, data: copy.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// A copy of `bytes` as protobuf-c's `bytes` value.
    package func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let memory = self.allocate(byteCount: bytes.count).bindMemory(to: UInt8.self, capacity: bytes.count)
        memory.initialize(from: bytes, count: bytes.count)
        return ProtobufCBinaryData(len: bytes.count, data: memory)
    }

    /// A copy of a buffer's readable bytes as protobuf-c's `bytes` value.
    package func bytes(_ buffer: ByteBuffer) -> ProtobufCBinaryData {
        guard buffer.readableBytes > 0 else { return ProtobufCBinaryData(len: 0, data: nil) }
        let memory = self.allocate(byteCount: buffer.readableBytes)
        buffer.withUnsafeReadableBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return ProtobufCBinaryData(len: buffer.readableBytes, data: memory.assumingMemoryBound(to: UInt8.self))
    }

    /// A C struct initialised by `initialise` and owned by the arena.
    package func object<T>(_ initialise: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        precondition(MemoryLayout<T>.alignment <= 16)
        let memory = self.allocate(byteCount: MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: 1)
        initialise(memory)
        return memory
    }

    /// An array of `count` pointers, for `repeated` fields.
    package func pointers<T>(count: Int) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?> {
        let capacity = max(count, 1)
        let memory = self.allocate(byteCount: capacity * MemoryLayout<UnsafeMutablePointer<T>?>.stride)
            .bindMemory(to: UnsafeMutablePointer<T>?.self, capacity: capacity)
        memory.initialize(repeating: nil, count: capacity)
        return memory
    }

    /// C copies of `strings`, for a `repeated string` field: assign to its `n_…` count and its pointer together.
    package func strings(_ strings: [String]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        guard !strings.isEmpty else { return (0, nil) }
        let array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = self.pointers(count: strings.count)
        for (index, string) in strings.enumerated() { array[index] = self.string(string) }
        return (strings.count, array)
    }

    /// C copies of `messages`, for a `repeated` message field: assign to its `n_…` count and its pointer together.
    package func messages<M: CBridgedMessage>(
        _ messages: [M]
    ) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?) {
        guard !messages.isEmpty else { return (0, nil) }
        let array: UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?> = self.pointers(count: messages.count)
        for (index, message) in messages.enumerated() { array[index] = message.cPointer(self) }
        return (messages.count, array)
    }
}

/// Runs `body` with an arena whose memory is given back when it returns.
@inline(__always)
package func withCArena<R>(_ body: (borrowing CArena) throws -> R) rethrows -> R {
    try withUnsafeTemporaryAllocation(byteCount: CArena.stackBytes, alignment: 16) { region in
        var state = CArena.State(base: region.baseAddress!, capacity: region.count)
        return try withUnsafeMutablePointer(to: &state) { state in
            defer { CArena.freeSpilled(state) }
            return try body(CArena(state))
        }
    }
}

/// Packs a protobuf-c message with its generated `get_packed_size` and `pack` functions.
@inline(__always)
package func pack<M>(
    _ message: inout M,
    into buffer: inout ByteBuffer,
    size: (UnsafePointer<M>) -> Int,
    pack: (UnsafePointer<M>, UnsafeMutablePointer<UInt8>) -> Int
) {
    withUnsafePointer(to: &message) { pointer in
        let length = size(pointer)
        guard length > 0 else { return }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { out in
            pack(pointer, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }
}

/// Unpacks a buffer's readable bytes with a generated `unpack` function, hands the C struct to `read`, and frees it.
///
/// protobuf-c allocates the struct and each of its strings and byte arrays; here they come from a ``CArena``, which
/// `read` copies out of before it goes.
/// - Throws: ``MalformedMessage`` named `name` when protobuf-c refuses the bytes or `read` throws.
@inline(__always)
package func unpack<M, R>(
    _ buffer: ByteBuffer,
    name: String,
    unpack: (UnsafeMutablePointer<ProtobufCAllocator>, Int, UnsafePointer<UInt8>) -> UnsafeMutablePointer<M>?,
    free: (UnsafeMutablePointer<M>, UnsafeMutablePointer<ProtobufCAllocator>) -> Void,
    read: (M) throws -> R
) throws -> R {
    try withCArena { arena in
        try arena.withProtobufAllocator { allocator in
            let message: UnsafeMutablePointer<M>? = buffer.withUnsafeReadableBytes { bytes in
                // protobuf-c wants a non-null pointer even for an empty message.
                var empty: UInt8 = 0
                guard let base = bytes.baseAddress, bytes.count > 0 else {
                    return withUnsafePointer(to: &empty) { unpack(allocator, 0, $0) }
                }
                return unpack(allocator, bytes.count, base.assumingMemoryBound(to: UInt8.self))
            }
            guard let message else { throw MalformedMessage(messageName: name) }
            defer { free(message, allocator) }
            do {
                return try read(message.pointee)
            } catch var error as InvalidTextField {
                error.messageName = name
                throw error
            } catch {
                // A field protobuf-c accepted but Swift cannot represent: the message as a whole is malformed.
                throw MalformedMessage(messageName: name)
            }
        }
    }
}

/// A protobuf-c `string` field whose bytes are not UTF-8; decoding turns it into ``MalformedMessage``.
package struct InvalidUTF8: Error {}

extension String {
    /// A Swift string from a protobuf-c string field; `NULL` is the empty string.
    ///
    /// protobuf-c 1.4 does not check proto3's rule that strings are UTF-8. Repairing them (as `String(cString:)`
    /// would) could make two different wire keys one Swift key, so invalid bytes fail the whole message instead.
    /// A NUL inside the field still ends the string (a `char *` cannot tell), so only fields that carry the server's
    /// own words (`Status.message`, `HelloResponse`'s) are `string`s; names are ``init(exactText:field:)``.
    /// - Throws: ``InvalidUTF8``.
    package init(protobufC pointer: UnsafePointer<CChar>?) throws {
        guard let pointer else {
            self = ""
            return
        }
        guard let string = String(validatingCString: pointer) else { throw InvalidUTF8() }
        self = string
    }
}

extension String {
    /// A Swift string from a text field the protocol declares `bytes`: exactly its bytes, which must be UTF-8
    /// without NUL.
    ///
    /// The length comes from the wire, not from a terminator, so nothing after a NUL can be lost; a NUL or invalid
    /// UTF-8 fails the message with the field's name instead of being cut or repaired.
    /// - Parameters:
    ///   - data: The field as protobuf-c unpacked it.
    ///   - field: The field's name in the `.proto`, for the error.
    /// - Throws: ``InvalidTextField``.
    package init(exactText data: ProtobufCBinaryData, field: StaticString) throws {
        guard let base = data.data, data.len > 0 else {
            self = ""
            return
        }
        let bytes = UnsafeBufferPointer(start: base, count: data.len)
        if let offset = bytes.firstIndex(of: 0) {
            throw InvalidTextField(field: "\(field)", problem: .containsNUL(offset: offset))
        }
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw InvalidTextField(field: "\(field)", problem: .invalidUTF8)
        }
        self = string
    }
}

extension Array where Element == UInt8 {
    /// A copy of a protobuf-c `bytes` field.
    package init(protobufC data: ProtobufCBinaryData) {
        if let bytes = data.data, data.len > 0 {
            self = Array(UnsafeBufferPointer(start: bytes, count: data.len))
        } else {
            self = []
        }
    }
}

extension Bool {
    /// A Swift `Bool` from a protobuf-c `bool` field (an `int`).
    package init(protobufC value: protobuf_c_boolean) { self = value != 0 }

    /// The value of a protobuf-c `bool` field.
    package var protobufC: protobuf_c_boolean { self ? 1 : 0 }
}

/// Reads the `count` elements of a protobuf-c `repeated` message field.
package func repeated<T, R>(
    _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?,
    count: Int,
    _ read: (T) throws -> R
) rethrows -> [R] {
    guard let pointer, count > 0 else { return [] }
    return try (0..<count).compactMap { index in try pointer[index].map { try read($0.pointee) } }
}

/// Reads the `count` elements of a protobuf-c `repeated string` field.
/// - Throws: ``InvalidUTF8``.
package func repeated(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, count: Int) throws -> [String] {
    guard let pointer, count > 0 else { return [] }
    return try (0..<count).map { try String(protobufC: pointer[$0]) }
}
