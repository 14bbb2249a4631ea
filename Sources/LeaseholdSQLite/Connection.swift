internal import CSQLite

/// An open SQLite database connection.
///
/// A connection is not thread-safe in use: its statement cache and the statements it hands out have state that
/// two threads must not touch at once. It is therefore not `Sendable`. Confine each connection to one thread, or
/// keep it behind a lock (`Mutex<Connection>` works, since `Mutex` takes its value as `sending`).
///
/// ```swift
/// let connection = try Connection(path: "data.db")
/// try connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
/// let insert = try connection.cachedStatement("INSERT INTO t (name) VALUES (?)")
/// try insert.bind("hello", at: 1)
/// try insert.run()
/// ```
public final class Connection {
    /// How to open the database file: `SQLITE_OPEN_*` flags.
    public struct OpenFlags: OptionSet, Hashable, Sendable {
        public let rawValue: CInt
        public init(rawValue: CInt) { self.rawValue = rawValue }

        /// Open for reading only; the file must exist.
        public static let readOnly = OpenFlags(rawValue: SQLITE_OPEN_READONLY)
        /// Open for reading and writing.
        public static let readWrite = OpenFlags(rawValue: SQLITE_OPEN_READWRITE)
        /// Create the file if it does not exist (with ``readWrite``).
        public static let create = OpenFlags(rawValue: SQLITE_OPEN_CREATE)
        /// Interpret the path as a `file:` URI.
        public static let uri = OpenFlags(rawValue: SQLITE_OPEN_URI)
        /// Turn off SQLite's per-connection mutex: only for connections that are strictly confined.
        public static let noMutex = OpenFlags(rawValue: SQLITE_OPEN_NOMUTEX)
    }

    /// The kind of lock `BEGIN` takes.
    public enum TransactionKind: String, Hashable, Sendable {
        /// Takes locks when the first statement needs them.
        case deferred = "DEFERRED"
        /// Takes the write lock at once, so a writer never fails half-way with `SQLITE_BUSY`.
        case immediate = "IMMEDIATE"
        /// Takes the write lock at once and, outside WAL mode, keeps readers out.
        case exclusive = "EXCLUSIVE"
    }

    /// The path the connection was opened with.
    public let path: String

    private var handle: OpaquePointer?
    private var statementCache: [String: Statement] = [:]

    /// Opens (or creates) a database.
    ///
    /// Extended result codes are turned on, so errors carry codes such as ``ResultCode/constraintPrimaryKey``.
    /// - Parameters:
    ///   - path: A file path, `":memory:"`, or a `file:` URI with ``OpenFlags/uri``.
    ///   - flags: How to open it; by default read-write, creating the file if needed.
    ///   - vfs: The name of the SQLite VFS to use, such as `"unix-excl"`; `nil` for the default.
    /// - Throws: ``SQLiteError`` when the file cannot be opened.
    public init(path: String, flags: OpenFlags = [.readWrite, .create], vfs: String? = nil) throws {
        self.path = path
        var handle: OpaquePointer?
        let code = sqlite3_open_v2(path, &handle, flags.rawValue, vfs)
        guard code == SQLITE_OK, let handle else {
            // sqlite3_open_v2 usually allocates a handle even when it fails; it must be closed.
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            let extended = handle.map { sqlite3_extended_errcode($0) } ?? code
            sqlite3_close_v2(handle)
            throw SQLiteError(resultCode: ResultCode(rawValue: extended), message: "\(message) (opening \(path))")
        }
        sqlite3_extended_result_codes(handle, 1)
        self.handle = handle
    }

    deinit {
        self.close()
    }

    /// Finalizes the cached statements and closes the connection. Closing twice does nothing.
    ///
    /// Statements made by ``prepare(_:)`` that are still alive keep the database open until they are finalized
    /// (`sqlite3_close_v2`); using them after this is an error, not a crash.
    public func close() {
        guard let handle = self.handle else { return }
        for statement in self.statementCache.values { statement.finalize() }
        self.statementCache = [:]
        sqlite3_close_v2(handle)
        self.handle = nil
    }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { self.handle == nil }

    // MARK: - Statements

    /// Runs one or more SQL statements that return no rows of interest.
    /// - Parameter sql: The statements, separated by `;`.
    /// - Throws: ``SQLiteError`` with the first failure.
    public func execute(_ sql: String) throws {
        let handle = try self.openHandle(for: sql)
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        defer { sqlite3_free(errorMessage) }
        guard code == SQLITE_OK else {
            let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            throw SQLiteError(resultCode: Self.extendedCode(code, handle), message: message, sql: sql)
        }
    }

    /// Compiles one statement. The caller owns it: it is finalized when it is released or by
    /// ``Statement/finalize()``.
    /// - Parameter sql: Exactly one SQL statement, with `?` or `?NNN` parameters.
    /// - Returns: The compiled statement.
    /// - Throws: ``SQLiteError`` when the SQL does not compile, or is empty or holds more than one statement.
    public func prepare(_ sql: String) throws -> Statement {
        let handle = try self.openHandle(for: sql)
        var statement: OpaquePointer?
        var hasTrailingSQL = false
        let code = sql.withCString { text -> CInt in
            var tail: UnsafePointer<CChar>?
            let code = sqlite3_prepare_v2(handle, text, -1, &statement, &tail)
            if let tail { hasTrailingSQL = !Self.isBlank(tail) }
            return code
        }
        guard code == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(handle))
            throw SQLiteError(resultCode: Self.extendedCode(code, handle), message: message, sql: sql)
        }
        guard let statement else {
            throw SQLiteError(resultCode: .misuse, message: "no statement in the SQL", sql: sql)
        }
        guard !hasTrailingSQL else {
            sqlite3_finalize(statement)
            throw SQLiteError(resultCode: .misuse, message: "prepare takes exactly one statement", sql: sql)
        }
        return Statement(handle: statement, sql: sql)
    }

    /// Returns a compiled statement for `sql`, compiling it on first use and reusing it afterwards.
    ///
    /// The statement comes back reset, with no bindings. It belongs to the connection: do not keep it across
    /// another call for the same SQL, and do not finalize it. Use this for statements on hot paths.
    /// - Parameter sql: Exactly one SQL statement.
    /// - Returns: The cached statement, ready to bind and step.
    /// - Throws: ``SQLiteError`` when the SQL does not compile.
    public func cachedStatement(_ sql: String) throws -> Statement {
        if let statement = self.statementCache[sql] {
            statement.reset()
            return statement
        }
        let statement = try self.prepare(sql)
        self.statementCache[sql] = statement
        return statement
    }

    // MARK: - Transactions

    /// Runs `body` inside `BEGIN … COMMIT`, rolling back if `body` or `COMMIT` throws.
    ///
    /// When `COMMIT` fails SQLite may already have rolled back (`SQLITE_FULL`, `SQLITE_IOERR`); a transaction that is
    /// still open is rolled back here, so the connection always leaves this method outside a transaction.
    /// - Parameters:
    ///   - kind: The lock `BEGIN` takes.
    ///   - body: The work of the transaction.
    /// - Returns: What `body` returns.
    /// - Throws: The error from `BEGIN`, `body` or `COMMIT`.
    public func transaction<Result>(_ kind: TransactionKind = .deferred, _ body: () throws -> Result) throws -> Result {
        try self.cachedStatement("BEGIN \(kind.rawValue)").run()
        do {
            let result = try body()
            try self.cachedStatement("COMMIT").run()
            return result
        } catch {
            self.rollbackIfNeeded()
            throw error
        }
    }

    /// Rolls back the open transaction, if there is one. A failing `ROLLBACK` is ignored: SQLite then rolls back
    /// on its own when the connection closes, and the caller already reports the error that led here.
    public func rollbackIfNeeded() {
        guard self.isInTransaction else { return }
        try? self.execute("ROLLBACK")
    }

    /// Whether a transaction is open (`sqlite3_get_autocommit` is off).
    public var isInTransaction: Bool {
        guard let handle = self.handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    // MARK: - Settings

    /// Reads a pragma.
    /// - Parameter name: The pragma name, e.g. `"journal_mode"`. It is pasted into the SQL: pass constants only.
    /// - Returns: The first column of the first row as text, or `nil` when the pragma returns no row.
    /// - Throws: ``SQLiteError``.
    public func pragma(_ name: String) throws -> String? {
        try self.firstText(of: "PRAGMA \(name)")
    }

    /// Sets a pragma and returns what SQLite answers (for `journal_mode`, the mode now in force).
    /// - Parameters:
    ///   - name: The pragma name. It is pasted into the SQL: pass constants only.
    ///   - value: The value, as SQL text (`"WAL"`, `"FULL"`, `"5000"`).
    /// - Returns: The first column of the first row as text, or `nil` when the pragma returns no row.
    /// - Throws: ``SQLiteError``.
    @discardableResult
    public func setPragma(_ name: String, to value: String) throws -> String? {
        try self.firstText(of: "PRAGMA \(name) = \(value)")
    }

    /// Makes SQLite retry for up to `timeout` when another connection holds a conflicting lock, before failing
    /// with ``ResultCode/busy``.
    /// - Parameter timeout: How long to retry; zero turns retrying off.
    /// - Throws: ``SQLiteError`` when the connection is closed.
    public func setBusyTimeout(_ timeout: Duration) throws {
        let handle = try self.openHandle(for: nil)
        let milliseconds = min(max(timeout.wholeMillisecondsForSQLite, 0), Int64(CInt.max))
        sqlite3_busy_timeout(handle, CInt(milliseconds))
    }

    /// Rows changed by the most recent `INSERT`, `UPDATE` or `DELETE`.
    public var changes: Int {
        guard let handle = self.handle else { return 0 }
        return Int(sqlite3_changes(handle))
    }

    // MARK: - Internal

    private func openHandle(for sql: String?) throws -> OpaquePointer {
        guard let handle = self.handle else {
            throw SQLiteError(resultCode: .misuse, message: "the connection is closed", sql: sql)
        }
        return handle
    }

    private func firstText(of sql: String) throws -> String? {
        let statement = try self.prepare(sql)
        defer { statement.finalize() }
        guard try statement.step() else { return nil }
        return statement.isNull(at: 0) ? nil : statement.string(at: 0)
    }

    /// The extended code for a failure, when the connection still has it.
    static func extendedCode(_ code: CInt, _ handle: OpaquePointer) -> ResultCode {
        let extended = sqlite3_extended_errcode(handle)
        return ResultCode(rawValue: extended & 0xFF == code & 0xFF ? extended : code)
    }

    private static func isBlank(_ text: UnsafePointer<CChar>) -> Bool {
        var pointer = text
        while pointer.pointee != 0 {
            switch UInt8(bitPattern: pointer.pointee) {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: ";"):
                pointer += 1
            default:
                return false
            }
        }
        return true
    }
}

@available(*, unavailable)
extension Connection: Sendable {}

extension Duration {
    /// Whole milliseconds, rounded toward zero (LeaseholdCore has the same; this module does not depend on it).
    var wholeMillisecondsForSQLite: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
