/// The half-open byte range `[lowerBound, upperBound)` of keys that start with a prefix.
///
/// SQLite compares TEXT with the `BINARY` collation, byte by byte, so `key >= lower AND key < upper` selects exactly
/// the keys with that byte prefix and can use an index. `LIKE` would not do: it ignores ASCII case and treats `%`
/// and `_` as wildcards.
struct KeyPrefixRange: Hashable {
    /// The prefix itself.
    var lowerBound: [UInt8]
    /// The smallest byte string above every string with the prefix, or `nil` when there is none (a prefix made
    /// of `0xFF` bytes only, which UTF-8 never produces).
    var upperBound: [UInt8]?

    /// - Parameter prefix: A non-empty prefix.
    init(prefix: String) {
        self.lowerBound = Array(prefix.utf8)
        var upper = self.lowerBound
        while let last = upper.last, last == 0xFF { upper.removeLast() }
        if upper.isEmpty {
            self.upperBound = nil
        } else {
            upper[upper.count - 1] += 1
            self.upperBound = upper
        }
    }
}
