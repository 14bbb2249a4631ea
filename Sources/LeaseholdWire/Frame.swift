package import CLeaseholdProto
package import CProtobufC
import Foundation
import LeaseholdCore
public import NIOCore

/// One unit on the wire: `leasehold.v1.Frame` (docs/protocol.md), without its 4-byte length prefix.
public struct Frame: Hashable, Sendable {
    /// Per-frame flags.
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// The client cancels the call named by ``Frame/callID``.
        public static let cancel = Flags(rawValue: 1)
    }

    /// Chosen by the client, unique among its open calls; `0` is connection-level.
    public var callID: UInt64
    /// The method, on a call's first frame only, such as `leasehold.v1.Leasehold/Acquire`; empty otherwise.
    public var method: String
    /// One encoded request, response or stream item; empty when the frame carries none.
    public var payload: ByteBuffer
    /// Present on the last server frame of a call.
    public var status: Status?
    public var flags: Flags
    /// The call's deadline, on its first frame only.
    public var timeout: Duration?
    /// Where ``method`` stands in the `knownMethods` the frame was decoded with
    /// (``init(decoding:knownMethods:)``), when it is one of them: a server finds the method's table entries by
    /// this index instead of hashing its name. Nil for any other method, and for a frame made by hand. It tells how
    /// the frame was read, not what it carries, so `==` and hashing leave it out.
    public var knownMethodIndex: Int?

    /// Creates a frame.
    public init(
        callID: UInt64,
        method: String = "",
        payload: ByteBuffer = ByteBuffer(),
        status: Status? = nil,
        flags: Flags = [],
        timeout: Duration? = nil
    ) {
        self.callID = callID
        self.method = method
        self.payload = payload
        self.status = status
        self.flags = flags
        self.timeout = timeout
    }

    public static func == (lhs: Frame, rhs: Frame) -> Bool {
        lhs.callID == rhs.callID && lhs.method == rhs.method && lhs.payload == rhs.payload
            && lhs.status == rhs.status && lhs.flags == rhs.flags && lhs.timeout == rhs.timeout
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.callID)
        hasher.combine(self.method)
        hasher.combine(self.payload)
        hasher.combine(self.status)
        hasher.combine(self.flags)
        hasher.combine(self.timeout)
    }

    /// A client's request to cancel `callID`.
    public static func cancel(callID: UInt64) -> Frame { Frame(callID: callID, flags: .cancel) }

    /// Decodes a frame from `buffer`'s readable bytes (the length prefix already removed).
    /// - Parameters:
    ///   - buffer: The frame's bytes.
    ///   - knownMethods: Method names to read as these very strings when a frame names one, sparing a string
    ///     allocation per call, and to number in ``knownMethodIndex``; a server passes the names it serves
    ///     (``FrameDecoder/init(maximumFrameLength:knownMethods:)``).
    /// - Throws: ``MalformedMessage`` when the bytes are not a `Frame`; ``InvalidTextField`` when its method holds a
    ///   NUL or is not UTF-8.
    public init(decoding buffer: ByteBuffer, knownMethods: [String] = []) throws {
        self = try unpack(
            buffer,
            name: "leasehold.v1.Frame",
            unpack: { leasehold__v1__frame__unpack($0, $1, $2) },
            free: { leasehold__v1__frame__free_unpacked($0, $1) }
        ) { c in
            var payload = ByteBuffer()
            if let data = c.payload.data, c.payload.len > 0 {
                // The payload's own bytes in `buffer`, shared rather than copied: a copy is a new buffer (two
                // allocations) per call. protobuf-c has copied them already, so the copy is the fallback.
                if let range = Self.payloadRange(in: buffer), range.count == c.payload.len,
                    let slice = buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count)
                {
                    payload = slice
                } else {
                    payload = ByteBuffer(bytes: UnsafeRawBufferPointer(start: data, count: c.payload.len))
                }
            }
            let (method, index) = try Self.method(protobufC: c.method, knownMethods: knownMethods)
            var frame = Frame(
                callID: c.call_id,
                method: method,
                payload: payload,
                status: try Status.from(c.status),
                flags: Flags(rawValue: c.flags),
                timeout: c.timeout_ms > 0 ? Duration(wireMilliseconds: c.timeout_ms) : nil
            )
            frame.knownMethodIndex = index
            return frame
        }
    }

    /// Where the last `payload` field (number 3, length-delimited) of an encoded frame lies in `buffer`'s readable
    /// bytes, found by walking the frame's fields; `nil` when it has none or the walk finds bytes it cannot read.
    /// (For a field that is not repeated, protobuf takes its last occurrence, as protobuf-c does.)
    static func payloadRange(in buffer: ByteBuffer) -> Range<Int>? {
        buffer.withUnsafeReadableBytes { bytes -> Range<Int>? in
            var index = 0
            var found: Range<Int>?
            func varint() -> UInt64? {
                var value: UInt64 = 0
                var shift: UInt64 = 0
                while index < bytes.count, shift < 64 {
                    let byte = bytes[index]
                    index += 1
                    value |= UInt64(byte & 0x7f) << shift
                    if byte & 0x80 == 0 { return value }
                    shift += 7
                }
                return nil
            }
            while index < bytes.count {
                guard let key = varint() else { return nil }
                switch key & 7 {
                case 0:
                    guard varint() != nil else { return nil }
                case 1:
                    index += 8
                case 2:
                    guard let length = varint(), length <= UInt64(bytes.count - index) else { return nil }
                    if key >> 3 == 3 { found = index..<(index + Int(length)) }
                    index += Int(length)
                case 5:
                    index += 4
                default:
                    return nil
                }
                guard index <= bytes.count else { return nil }
            }
            return found
        }
    }

    /// A frame's method: one of `knownMethods`, with its index, when its exact bytes are one; else a new string.
    /// - Throws: ``InvalidTextField`` when the bytes hold a NUL or are not UTF-8.
    private static func method(
        protobufC data: ProtobufCBinaryData,
        knownMethods: [String]
    ) throws -> (String, Int?) {
        guard let bytes = data.data, data.len > 0 else { return ("", nil) }
        // The names are native strings, whose UTF-8 is always contiguous.
        for (index, name) in knownMethods.enumerated() where name.utf8.count == data.len {
            if name.utf8.withContiguousStorageIfAvailable({ memcmp($0.baseAddress!, bytes, data.len) == 0 }) == true {
                return (name, index)
            }
        }
        return (try String(exactText: data, field: "method"), nil)
    }

    /// Appends the encoded frame (without length prefix) to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        var c = Leasehold__V1__Frame()
        leasehold__v1__frame__init(&c)
        c.call_id = self.callID
        c.flags = self.flags.rawValue
        c.timeout_ms = self.timeout?.wireMilliseconds ?? 0
        withCArena { arena in
            c.status = self.status?.cPointer(arena)
            if !self.method.isEmpty { c.method = arena.text(self.method) }
            self.payload.withUnsafeReadableBytes { payload in
                // protobuf-c only reads the payload while packing; no copy is made before that.
                c.payload = ProtobufCBinaryData(
                    len: payload.count,
                    data: UnsafeMutablePointer(mutating: payload.baseAddress?.assumingMemoryBound(to: UInt8.self))
                )
                pack(&c, into: &buffer, size: leasehold__v1__frame__get_packed_size, pack: leasehold__v1__frame__pack)
            }
        }
    }

    /// Appends the 4-byte big-endian length and the encoded frame to `buffer`.
    public func encodeWithLengthPrefix(into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        self.encode(into: &buffer)
        buffer.setInteger(UInt32(buffer.writerIndex - start - 4), at: start)
    }
}

extension Frame: CustomStringConvertible {
    public var description: String {
        var parts = ["call \(self.callID)"]
        if !self.method.isEmpty { parts.append(self.method) }
        if self.payload.readableBytes > 0 { parts.append("\(self.payload.readableBytes) bytes") }
        if let status = self.status { parts.append("status \(status.code)") }
        if self.flags.contains(.cancel) { parts.append("CANCEL") }
        if let timeout = self.timeout { parts.append("timeout \(timeout)") }
        return "Frame(\(parts.joined(separator: ", ")))"
    }
}
