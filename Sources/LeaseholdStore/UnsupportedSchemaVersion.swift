/// The database file was written by a newer Leasehold with a schema this build does not know.
public struct UnsupportedSchemaVersion: Error, Hashable, Sendable, CustomStringConvertible {
    /// The `user_version` found in the file.
    public var found: Int
    /// The newest version this build understands.
    public var supported: Int

    /// Creates the error.
    /// - Parameters:
    ///   - found: The version in the file.
    ///   - supported: The newest version this build understands.
    public init(found: Int, supported: Int) {
        self.found = found
        self.supported = supported
    }

    public var description: String {
        "the database has schema version \(self.found); this build supports up to \(self.supported)"
    }
}
