internal import CSQLite

/// A compiled SQL statement (`sqlite3_stmt`).
///
/// Parameters are numbered from 1, as in SQLite (`?1`, or the n-th `?`); result columns from 0. A statement is
/// not thread-safe and belongs to the thread of its ``Connection``.
///
/// ```swift
/// let select = try connection.cachedStatement("SELECT id, name FROM t WHERE id >= ?")
/// try select.bind(Int64(10), at: 1)
/// while try select.step() {
///     print(select.int64(at: 0), select.string(at: 1))
/// }
/// ```
public final class Statement {
    /// The SQL the statement was compiled from.
    public let sql: String

    private var handle: OpaquePointer?

    init(handle: OpaquePointer, sql: String) {
        self.handle = handle
        self.sql = sql
    }

    deinit {
        self.finalize()
    }

    /// Releases the compiled statement. Later calls throw ``ResultCode/misuse``; finalizing twice does nothing.
    public func finalize() {
        guard let handle = self.handle else { return }
        sqlite3_finalize(handle)
        self.handle = nil
    }

    /// Rewinds the statement so that it can run again, and clears its bindings.
    public func reset() {
        guard let handle = self.handle else { return }
        // sqlite3_reset repeats the error of the last step, which the caller has already seen.
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: - Binding

    /// Binds a 64-bit integer.
    /// - Parameters:
    ///   - value: The value.
    ///   - index: The parameter number, from 1.
    /// - Throws: ``SQLiteError`` (``ResultCode/range`` for a bad index).
    public func bind(_ value: Int64, at index: Int) throws {
        let handle = try self.liveHandle()
        try self.check(sqlite3_bind_int64(handle, CInt(index), value))
    }

    /// Binds an `Int`.
    /// - Parameters:
    ///   - value: The value.
    ///   - index: The parameter number, from 1.
    /// - Throws: ``SQLiteError``.
    public func bind(_ value: Int, at index: Int) throws {
        try self.bind(Int64(value), at: index)
    }

    /// Binds an unsigned 64-bit integer as SQLite's signed 64-bit integer, bit for bit.
    ///
    /// ``uint64(at:)`` reads it back unchanged. SQL comparisons and `ORDER BY` agree with unsigned order only up
    /// to `Int64.max`, which revisions, tokens and ids never reach.
    /// - Parameters:
    ///   - value: The value.
    ///   - index: The parameter number, from 1.
    /// - Throws: ``SQLiteError``.
    public func bind(_ value: UInt64, at index: Int) throws {
        try self.bind(Int64(bitPattern: value), at: index)
    }

    /// Binds text, as UTF-8 (SQLite copies it).
    /// - Parameters:
    ///   - value: The text; it may hold NUL characters.
    ///   - index: The parameter number, from 1.
    /// - Throws: ``SQLiteError``.
    public func bind(_ value: String, at index: Int) throws {
        // Native strings are contiguous UTF-8 already: bind them in place rather than through a copied array.
        let bound = try value.utf8.withContiguousStorageIfAvailable { try self.bind(textBytes: $0, at: index) }
        if bound == nil { try self.bind(textBytes: Array(value.utf8), at: index) }
    }

    /// Binds raw bytes as TEXT, without checking that they are UTF-8.
    ///
    /// SQLite compares TEXT byte by byte (the `BINARY` collation), so this can express bounds that are not valid
    /// UTF-8, such as the upper end of a key-prefix range.
    /// - Parameters:
    ///   - bytes: The text's bytes.
    ///   - index: The parameter number, from 1.
    /// - Throws: ``SQLiteError``.
    public func bind(textBytes bytes: [UInt8], at index: Int) throws {
        try bytes.withUnsafeBufferPointer { try self.bind(textBytes: $0, at: index) }
    }

    private func bind(textBytes buffer: UnsafeBufferPointer<UInt8>, at index: Int) throws {
        let handle = try self.liveHandle()
        let code: CInt
        // A NULL pointer would bind SQL NULL, not an empty text.
        if let base = buffer.baseAddress, !buffer.isEmpty {
            code = base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                sqlite3_bind_text(handle, CInt(index), $0, CInt(buffer.count), lh_sqlite_transient())
            }
        } else {
            code = sqlite3_bind_text(handle, CInt(index), "", 0, lh_sqlite_transient())
        }
        try self.check(code)
    }

    /// Binds a BLOB (SQLite copies it).
    /// - Parameters:
    ///   - bytes: The bytes; an empty array binds an empty BLOB, not NULL.
    ///   - index: The parameter number, from 1.
    /// - Throws: ``SQLiteError``.
    public func bind(blob bytes: [UInt8], at index: Int) throws {
        let handle = try self.liveHandle()
        let code = bytes.withUnsafeBytes { buffer -> CInt in
            guard let base = buffer.baseAddress, !buffer.isEmpty else {
                return sqlite3_bind_zeroblob(handle, CInt(index), 0)
            }
            return sqlite3_bind_blob(handle, CInt(index), base, CInt(buffer.count), lh_sqlite_transient())
        }
        try self.check(code)
    }

    /// Binds SQL NULL.
    /// - Parameter index: The parameter number, from 1.
    /// - Throws: ``SQLiteError``.
    public func bindNull(at index: Int) throws {
        let handle = try self.liveHandle()
        try self.check(sqlite3_bind_null(handle, CInt(index)))
    }

    // MARK: - Stepping

    /// Runs the statement to its next row.
    /// - Returns: `true` when a row is available for the column getters, `false` when the statement is done.
    /// - Throws: ``SQLiteError``; the statement must then be reset before it runs again.
    @discardableResult
    public func step() throws -> Bool {
        let handle = try self.liveHandle()
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw self.error(code)
        }
    }

    /// Runs the statement to completion, ignoring any rows.
    /// - Throws: ``SQLiteError``.
    public func run() throws {
        while try self.step() {}
    }

    // MARK: - Columns

    /// The number of columns in a result row.
    public var columnCount: Int {
        guard let handle = self.handle else { return 0 }
        return Int(sqlite3_column_count(handle))
    }

    /// Whether the column of the current row is NULL.
    /// - Parameter column: The column number, from 0.
    public func isNull(at column: Int) -> Bool {
        guard let handle = self.handle else { return true }
        return sqlite3_column_type(handle, CInt(column)) == SQLITE_NULL
    }

    /// The column as a 64-bit integer (NULL reads as 0).
    /// - Parameter column: The column number, from 0.
    public func int64(at column: Int) -> Int64 {
        guard let handle = self.handle else { return 0 }
        return sqlite3_column_int64(handle, CInt(column))
    }

    /// The column as an `Int` (NULL reads as 0).
    /// - Parameter column: The column number, from 0.
    public func int(at column: Int) -> Int {
        Int(self.int64(at: column))
    }

    /// The column as an unsigned 64-bit integer, bit for bit, as ``bind(_:at:)-(UInt64,_)`` stored it.
    /// - Parameter column: The column number, from 0.
    public func uint64(at column: Int) -> UInt64 {
        UInt64(bitPattern: self.int64(at: column))
    }

    /// The column as text (NULL reads as the empty string). Invalid UTF-8 is repaired with U+FFFD.
    /// - Parameter column: The column number, from 0.
    public func string(at column: Int) -> String {
        guard let handle = self.handle, let text = sqlite3_column_text(handle, CInt(column)) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, CInt(column)))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// The column as bytes (NULL reads as empty).
    /// - Parameter column: The column number, from 0.
    public func blob(at column: Int) -> [UInt8] {
        guard let handle = self.handle, let bytes = sqlite3_column_blob(handle, CInt(column)) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, CInt(column)))
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    // MARK: - Internal

    private func liveHandle() throws -> OpaquePointer {
        guard let handle = self.handle else {
            throw SQLiteError(resultCode: .misuse, message: "the statement is finalized", sql: self.sql)
        }
        return handle
    }

    private func check(_ code: CInt) throws {
        guard code != SQLITE_OK else { return }
        throw self.error(code)
    }

    private func error(_ code: CInt) -> SQLiteError {
        guard let handle = self.handle, let database = sqlite3_db_handle(handle) else {
            return SQLiteError(resultCode: ResultCode(rawValue: code), sql: self.sql)
        }
        return SQLiteError(
            resultCode: Connection.extendedCode(code, database),
            message: String(cString: sqlite3_errmsg(database)),
            sql: self.sql
        )
    }
}

@available(*, unavailable)
extension Statement: Sendable {}
