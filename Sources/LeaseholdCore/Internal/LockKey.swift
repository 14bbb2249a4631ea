/// A lock key compared and hashed by its UTF-8 bytes.
///
/// `String`'s own `==` treats canonically equivalent strings (precomposed `é` and `e` + combining accent) as equal,
/// while the store, `List` prefixes and `Watch` prefixes all work on bytes. Keying the tables by bytes keeps the
/// lock table in agreement with them: two byte sequences are two locks.
struct LockKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The key as the client sent it.
    let string: String

    init(_ string: String) {
        self.string = string
    }

    static func == (lhs: LockKey, rhs: LockKey) -> Bool {
        lhs.string.utf8.count == rhs.string.utf8.count && lhs.string.utf8.elementsEqual(rhs.string.utf8)
    }

    func hash(into hasher: inout Hasher) {
        let hashed: Void? = self.string.utf8.withContiguousStorageIfAvailable { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
        }
        if hashed == nil {
            // Same bytes, same hash, whichever storage the string has.
            Array(self.string.utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    /// Byte order, the order of `List`.
    static func < (lhs: LockKey, rhs: LockKey) -> Bool {
        lhs.string.utf8.lexicographicallyPrecedes(rhs.string.utf8)
    }

    /// Whether the key starts with the bytes of `prefix`.
    func hasBytePrefix(_ prefix: String) -> Bool {
        self.string.utf8.starts(with: prefix.utf8)
    }

    var description: String { self.string }
}
