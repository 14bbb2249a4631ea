import CLeaseholdProto
import CProtobufC
import Foundation
import NIOCore

/// Holds the C memory (strings, byte arrays, pointer arrays) that one message conversion lends to protobuf-c.
///
/// Everything allocated through an arena is freed when ``withCArena(_:)`` returns, so C structs built with it
/// must not escape that closure.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    /// A NUL-terminated copy of `string`.
    func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        self.allocations.append(UnsafeMutableRawPointer(copy))
        return copy
    }

    /// A copy of `bytes` as protobuf-c's `bytes` value.
    func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let memory = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
        memory.initialize(from: bytes, count: bytes.count)
        self.allocations.append(UnsafeMutableRawPointer(memory))
        return ProtobufCBinaryData(len: bytes.count, data: memory)
    }

    /// A copy of a buffer's readable bytes as protobuf-c's `bytes` value.
    func bytes(_ buffer: ByteBuffer) -> ProtobufCBinaryData {
        self.bytes(Array(buffer.readableBytesView))
    }

    /// A C struct initialised by `initialise` and owned by the arena.
    func object<T>(_ initialise: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let memory = UnsafeMutablePointer<T>.allocate(capacity: 1)
        initialise(memory)
        self.allocations.append(UnsafeMutableRawPointer(memory))
        return memory
    }

    /// An array of `count` pointers, for `repeated` fields.
    func pointers<T>(count: Int) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?> {
        let memory = UnsafeMutablePointer<UnsafeMutablePointer<T>?>.allocate(capacity: max(count, 1))
        memory.initialize(repeating: nil, count: max(count, 1))
        self.allocations.append(UnsafeMutableRawPointer(memory))
        return memory
    }

    /// C copies of `strings`, for a `repeated string` field: assign to its `n_…` count and its pointer together.
    func strings(_ strings: [String]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        guard !strings.isEmpty else { return (0, nil) }
        let array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = self.pointers(count: strings.count)
        for (index, string) in strings.enumerated() { array[index] = self.string(string) }
        return (strings.count, array)
    }

    /// C copies of `messages`, for a `repeated` message field: assign to its `n_…` count and its pointer together.
    func messages<M: CBridgedMessage>(
        _ messages: [M]
    ) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?) {
        guard !messages.isEmpty else { return (0, nil) }
        let array: UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?> = self.pointers(count: messages.count)
        for (index, message) in messages.enumerated() { array[index] = message.cPointer(self) }
        return (messages.count, array)
    }

    deinit {
        for allocation in self.allocations { free(allocation) }
    }
}

/// Runs `body` with an arena whose allocations are freed when it returns.
@inline(__always)
func withCArena<R>(_ body: (CArena) throws -> R) rethrows -> R {
    let arena = CArena()
    return try withExtendedLifetime(arena) { try body(arena) }
}

/// Packs a protobuf-c message with its generated `get_packed_size` and `pack` functions.
@inline(__always)
func pack<M>(
    _ message: inout M, into buffer: inout ByteBuffer,
    size: (UnsafePointer<M>) -> Int, pack: (UnsafePointer<M>, UnsafeMutablePointer<UInt8>) -> Int
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
/// - Throws: ``MalformedMessage`` named `name` when protobuf-c refuses the bytes or `read` throws.
@inline(__always)
func unpack<M, R>(
    _ buffer: ByteBuffer, name: String,
    unpack: (Int, UnsafePointer<UInt8>) -> UnsafeMutablePointer<M>?,
    free: (UnsafeMutablePointer<M>) -> Void,
    read: (M) throws -> R
) throws -> R {
    let message: UnsafeMutablePointer<M>? = buffer.withUnsafeReadableBytes { bytes in
        // protobuf-c wants a non-null pointer even for an empty message.
        var empty: UInt8 = 0
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            return withUnsafePointer(to: &empty) { unpack(0, $0) }
        }
        return unpack(bytes.count, base.assumingMemoryBound(to: UInt8.self))
    }
    guard let message else { throw MalformedMessage(messageName: name) }
    defer { free(message) }
    do {
        return try read(message.pointee)
    } catch {
        // A field protobuf-c accepted but Swift cannot represent: the message as a whole is malformed.
        throw MalformedMessage(messageName: name)
    }
}

/// A protobuf-c `string` field whose bytes are not UTF-8; decoding turns it into ``MalformedMessage``.
struct InvalidUTF8: Error {}

extension String {
    /// A Swift string from a protobuf-c string field; `NULL` is the empty string.
    ///
    /// protobuf-c 1.4 does not check proto3's rule that strings are UTF-8. Repairing them (as `String(cString:)`
    /// would) could make two different wire keys one Swift key, so invalid bytes fail the whole message instead.
    /// A NUL inside the field still ends the string: a `char *` cannot tell.
    /// - Throws: ``InvalidUTF8``.
    init(protobufC pointer: UnsafePointer<CChar>?) throws {
        guard let pointer else {
            self = ""
            return
        }
        guard let string = String(validatingCString: pointer) else { throw InvalidUTF8() }
        self = string
    }
}

extension Array where Element == UInt8 {
    /// A copy of a protobuf-c `bytes` field.
    init(protobufC data: ProtobufCBinaryData) {
        if let bytes = data.data, data.len > 0 {
            self = Array(UnsafeBufferPointer(start: bytes, count: data.len))
        } else {
            self = []
        }
    }
}

extension Bool {
    /// A Swift `Bool` from a protobuf-c `bool` field (an `int`).
    init(protobufC value: protobuf_c_boolean) { self = value != 0 }

    /// The value of a protobuf-c `bool` field.
    var protobufC: protobuf_c_boolean { self ? 1 : 0 }
}

/// Reads the `count` elements of a protobuf-c `repeated` message field.
func repeated<T, R>(
    _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, count: Int, _ read: (T) throws -> R
) rethrows -> [R] {
    guard let pointer, count > 0 else { return [] }
    return try (0..<count).compactMap { index in try pointer[index].map { try read($0.pointee) } }
}

/// Reads the `count` elements of a protobuf-c `repeated string` field.
/// - Throws: ``InvalidUTF8``.
func repeated(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, count: Int) throws -> [String] {
    guard let pointer, count > 0 else { return [] }
    return try (0..<count).map { try String(protobufC: pointer[$0]) }
}
