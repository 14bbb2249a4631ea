import LeaseholdWire

/// Bounds on the free text a request may carry, so that a client cannot make the server hold (or log) megabytes per
/// session or per watcher: a million sessions with 1 MB names would be a memory attack. Longer text is refused with
/// `INVALID_ARGUMENT`, naming the field and the limit. Keys are bounded by the lock table's configuration.
public struct TextLimits: Hashable, Sendable {
    /// The longest `OpenSession` name, in UTF-8 bytes (`leasehold serve --max-name-bytes`; the same flag bounds
    /// `Hello.client_name`).
    public var maxSessionNameBytes = 256
    /// The longest `ForceRelease` reason, in UTF-8 bytes (`--max-reason-bytes`).
    public var maxReasonBytes = 1_024
    /// The longest `List` or `Watch` prefix, in UTF-8 bytes: a prefix longer than the longest key matches nothing.
    public var maxPrefixBytes = 512

    public init() {}

    /// The error for `text` in `field` when it is longer than `limit` bytes, or `nil`.
    func violation(_ text: String, field: String, limit: Int) -> LeaseholdError? {
        let bytes = text.utf8.count
        guard bytes > limit else { return nil }
        return LeaseholdError(
            code: .invalidArgument,
            message: "\(field) is \(bytes) bytes, more than the limit of \(limit)"
        )
    }
}
