// A tiny protobuf writer, independent of protobuf-c, so that golden bytes check the field numbers and wire types
// the spec fixes rather than whatever protobuf-c agrees with itself about.

/// Protobuf wire bytes built field by field: `ProtoBytes().varint(1, 7).string(2, "jobs/1")`.
struct ProtoBytes: Hashable, Sendable {
    /// The encoded fields so far.
    private(set) var bytes: [UInt8] = []

    /// Appends a varint field (wire type 0): integers, `bool`, enums.
    func varint(_ field: UInt64, _ value: UInt64) -> ProtoBytes {
        var copy = self
        copy.appendVarint(field << 3)
        copy.appendVarint(value)
        return copy
    }

    /// Appends a length-delimited field (wire type 2).
    func bytes(_ field: UInt64, _ value: [UInt8]) -> ProtoBytes {
        var copy = self
        copy.appendVarint(field << 3 | 2)
        copy.appendVarint(UInt64(value.count))
        copy.bytes += value
        return copy
    }

    /// Appends a `string` field as UTF-8.
    func string(_ field: UInt64, _ value: String) -> ProtoBytes { self.bytes(field, Array(value.utf8)) }

    /// Appends a nested message field.
    func message(_ field: UInt64, _ value: ProtoBytes) -> ProtoBytes { self.bytes(field, value.bytes) }

    /// Appends raw bytes, well-formed or not.
    func raw(_ value: [UInt8]) -> ProtoBytes {
        var copy = self
        copy.bytes += value
        return copy
    }

    private mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.bytes.append(UInt8(value))
    }
}
