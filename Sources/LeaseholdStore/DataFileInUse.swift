/// Another process has the database file open: only one server may use a data file at a time.
///
/// ``SQLiteStore`` holds an exclusive lock on its file for as long as it is open (SQLite's `unix-excl` VFS), so
/// that two servers can never hand out the same lock from two copies of the state.
public struct DataFileInUse: Error, Hashable, Sendable, CustomStringConvertible {
    /// The database file.
    public var path: String

    /// Creates the error.
    /// - Parameter path: The database file.
    public init(path: String) {
        self.path = path
    }

    public var description: String {
        "\(self.path) is in use by another process (another leasehold server?); only one server may use a data file"
    }
}
