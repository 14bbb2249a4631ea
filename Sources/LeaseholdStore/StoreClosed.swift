/// The store was closed: the work was not done.
///
/// ``SQLiteStore/submit(_:completion:)`` completes with it (on the caller's thread) once ``SQLiteStore/close()``
/// has been called, and reads throw it.
public struct StoreClosed: Error, Hashable, Sendable, CustomStringConvertible {
    /// Creates the error.
    public init() {}

    public var description: String { "the store is closed" }
}
