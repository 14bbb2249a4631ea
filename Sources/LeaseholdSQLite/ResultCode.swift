/// An SQLite result code, primary or extended.
///
/// SQLite reports errors with a primary code in the low 8 bits (``constraint``, ``full``, ``busy``…) and, for
/// connections with extended result codes enabled (every ``Connection``), a refinement in the higher bits
/// (``constraintPrimaryKey``, ``constraintUnique``…). ``primaryResultCode`` strips the refinement. As in GRDB, a
/// primary code used as a `case` pattern also matches its extended codes:
///
/// ```swift
/// switch error.resultCode {
/// case .constraint: …   // matches .constraintPrimaryKey, .constraintUnique, …
/// case .full: …
/// default: …
/// }
/// ```
///
/// The code is a struct, not an enum, so that codes SQLite adds later break nobody's `switch`.
public struct ResultCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as SQLite returned it.
    public let rawValue: CInt

    /// Wraps a code returned by SQLite.
    /// - Parameter rawValue: A primary or extended result code.
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// The primary code: the low 8 bits.
    public var primaryResultCode: ResultCode { ResultCode(rawValue: self.rawValue & 0xFF) }

    /// Whether this is a primary code (no extended bits set).
    public var isPrimary: Bool { self.rawValue & ~0xFF == 0 }

    /// `SQLITE_xxx (n)`-style text, e.g. `19/1555`, for logs.
    public var description: String {
        self.isPrimary ? "\(self.rawValue)" : "\(self.primaryResultCode.rawValue)/\(self.rawValue)"
    }

    /// Matches `code` against `pattern`: a primary pattern matches every extended code that refines it, an
    /// extended pattern matches only itself.
    /// - Parameters:
    ///   - pattern: The code in the `case` label.
    ///   - code: The code being switched over.
    /// - Returns: Whether `code` is `pattern` or one of its refinements.
    public static func ~= (pattern: ResultCode, code: ResultCode) -> Bool {
        pattern.isPrimary ? pattern == code.primaryResultCode : pattern == code
    }

    // MARK: - Primary codes

    /// `SQLITE_OK`
    public static let ok = ResultCode(rawValue: 0)
    /// `SQLITE_ERROR`: generic error, e.g. an SQL syntax error.
    public static let error = ResultCode(rawValue: 1)
    /// `SQLITE_INTERNAL`
    public static let `internal` = ResultCode(rawValue: 2)
    /// `SQLITE_PERM`
    public static let permission = ResultCode(rawValue: 3)
    /// `SQLITE_ABORT`
    public static let abort = ResultCode(rawValue: 4)
    /// `SQLITE_BUSY`: another connection holds a conflicting lock.
    public static let busy = ResultCode(rawValue: 5)
    /// `SQLITE_LOCKED`
    public static let locked = ResultCode(rawValue: 6)
    /// `SQLITE_NOMEM`
    public static let noMemory = ResultCode(rawValue: 7)
    /// `SQLITE_READONLY`
    public static let readOnly = ResultCode(rawValue: 8)
    /// `SQLITE_INTERRUPT`
    public static let interrupt = ResultCode(rawValue: 9)
    /// `SQLITE_IOERR`
    public static let ioError = ResultCode(rawValue: 10)
    /// `SQLITE_CORRUPT`
    public static let corrupt = ResultCode(rawValue: 11)
    /// `SQLITE_NOTFOUND`
    public static let notFound = ResultCode(rawValue: 12)
    /// `SQLITE_FULL`: the disk (or `max_page_count`) is full.
    public static let full = ResultCode(rawValue: 13)
    /// `SQLITE_CANTOPEN`
    public static let cannotOpen = ResultCode(rawValue: 14)
    /// `SQLITE_PROTOCOL`
    public static let `protocol` = ResultCode(rawValue: 15)
    /// `SQLITE_SCHEMA`
    public static let schema = ResultCode(rawValue: 17)
    /// `SQLITE_TOOBIG`
    public static let tooBig = ResultCode(rawValue: 18)
    /// `SQLITE_CONSTRAINT`: a constraint (primary key, unique, not null, check…) was violated.
    public static let constraint = ResultCode(rawValue: 19)
    /// `SQLITE_MISMATCH`
    public static let mismatch = ResultCode(rawValue: 20)
    /// `SQLITE_MISUSE`: the library was used incorrectly (e.g. a closed connection).
    public static let misuse = ResultCode(rawValue: 21)
    /// `SQLITE_RANGE`: a bind or column index is out of range.
    public static let range = ResultCode(rawValue: 25)
    /// `SQLITE_NOTADB`
    public static let notADatabase = ResultCode(rawValue: 26)
    /// `SQLITE_ROW`: `sqlite3_step` has another row.
    public static let row = ResultCode(rawValue: 100)
    /// `SQLITE_DONE`: `sqlite3_step` has finished.
    public static let done = ResultCode(rawValue: 101)

    // MARK: - Extended codes

    /// `SQLITE_BUSY_SNAPSHOT`
    public static let busySnapshot = ResultCode(rawValue: 5 | (2 << 8))
    /// `SQLITE_CONSTRAINT_CHECK`
    public static let constraintCheck = ResultCode(rawValue: 19 | (1 << 8))
    /// `SQLITE_CONSTRAINT_FOREIGNKEY`
    public static let constraintForeignKey = ResultCode(rawValue: 19 | (3 << 8))
    /// `SQLITE_CONSTRAINT_NOTNULL`
    public static let constraintNotNull = ResultCode(rawValue: 19 | (5 << 8))
    /// `SQLITE_CONSTRAINT_PRIMARYKEY`
    public static let constraintPrimaryKey = ResultCode(rawValue: 19 | (6 << 8))
    /// `SQLITE_CONSTRAINT_TRIGGER`: a trigger's `RAISE(ABORT, …)`.
    public static let constraintTrigger = ResultCode(rawValue: 19 | (7 << 8))
    /// `SQLITE_CONSTRAINT_UNIQUE`
    public static let constraintUnique = ResultCode(rawValue: 19 | (8 << 8))
    /// `SQLITE_CONSTRAINT_DATATYPE` (STRICT tables)
    public static let constraintDataType = ResultCode(rawValue: 19 | (12 << 8))
}
