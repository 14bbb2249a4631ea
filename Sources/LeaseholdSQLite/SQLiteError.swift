internal import CSQLite

/// An error reported by SQLite.
///
/// ``resultCode`` is the extended code when SQLite gives one; compare ``primaryResultCode`` (or use a primary
/// code as a `case` pattern, see ``ResultCode``) to handle a whole family:
///
/// ```swift
/// catch let error as SQLiteError where error.primaryResultCode == .constraint { … }
/// ```
public struct SQLiteError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The code SQLite returned, extended when available.
    public var resultCode: ResultCode
    /// SQLite's message (`sqlite3_errmsg`), if any.
    public var message: String?
    /// The statement that failed, if any.
    public var sql: String?

    /// Creates an error.
    /// - Parameters:
    ///   - resultCode: The code SQLite returned.
    ///   - message: SQLite's message, or a description of the misuse.
    ///   - sql: The statement that failed.
    public init(resultCode: ResultCode, message: String? = nil, sql: String? = nil) {
        self.resultCode = resultCode
        self.message = message
        self.sql = sql
    }

    /// The primary code of ``resultCode``: ``ResultCode/constraint`` for ``ResultCode/constraintPrimaryKey``.
    public var primaryResultCode: ResultCode { self.resultCode.primaryResultCode }

    public var description: String {
        var text = "SQLite error \(self.resultCode)"
        if let generic = sqlite3_errstr(self.resultCode.rawValue) { text += " (\(String(cString: generic)))" }
        if let message = self.message { text += ": \(message)" }
        if let sql = self.sql { text += " - while executing `\(sql)`" }
        return text
    }
}
