import LeaseholdSQLite
import Testing

@Suite("LeaseholdSQLite connection, statements and errors")
struct ConnectionTests {
    private func memory() throws -> Connection {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
        return connection
    }

    @Test("a primary-key violation is SQLITE_CONSTRAINT_PRIMARYKEY, whose primary code is SQLITE_CONSTRAINT")
    func primaryKeyViolation() throws {
        let connection = try self.memory()
        try connection.execute("INSERT INTO t (id, name) VALUES (1, 'a')")
        let error = try #require(throws: SQLiteError.self) {
            try connection.execute("INSERT INTO t (id, name) VALUES (1, 'b')")
        }
        #expect(error.resultCode == .constraintPrimaryKey)
        #expect(error.resultCode.rawValue == 1555)
        #expect(error.primaryResultCode == .constraint)
        #expect(error.resultCode.primaryResultCode.rawValue == 19)
        #expect(error.sql == "INSERT INTO t (id, name) VALUES (1, 'b')")
        #expect(error.message?.contains("UNIQUE constraint failed: t.id") == true)
        #expect(error.description.contains("1555"))
    }

    @Test("a statement reports the extended code of a unique violation from step()")
    func uniqueViolationFromStep() throws {
        let connection = try self.memory()
        let insert = try connection.cachedStatement("INSERT INTO t (name) VALUES (?1)")
        try insert.bind("same", at: 1)
        try insert.run()
        let again = try connection.cachedStatement("INSERT INTO t (name) VALUES (?1)")
        try again.bind("same", at: 1)
        let error = try #require(throws: SQLiteError.self) { try again.run() }
        #expect(error.resultCode == .constraintUnique)
        #expect(error.primaryResultCode == .constraint)
        #expect(error.sql == "INSERT INTO t (name) VALUES (?1)")
    }

    @Test(
        "primaryResultCode masks the extended bits",
        arguments: [
            (ResultCode.constraintPrimaryKey, ResultCode.constraint),
            (.constraintUnique, .constraint),
            (.constraintNotNull, .constraint),
            (.busySnapshot, .busy),
            (.full, .full),
            (ResultCode(rawValue: 10 | (3 << 8)), .ioError),
        ]
    )
    func primaryCodes(code: ResultCode, primary: ResultCode) {
        #expect(code.primaryResultCode == primary)
        #expect(primary.isPrimary)
    }

    @Test("a primary code as a pattern matches its extended codes; an extended one only itself")
    func patternMatching() {
        #expect(ResultCode.constraint ~= .constraintPrimaryKey)
        #expect(ResultCode.constraint ~= .constraint)
        #expect(!(ResultCode.constraintUnique ~= .constraintPrimaryKey))
        #expect(!(ResultCode.full ~= .constraintPrimaryKey))
        switch ResultCode.constraintPrimaryKey {
        case .full: Issue.record("matched .full")
        case .constraint: break
        default: Issue.record("did not match .constraint")
        }
    }

    @Test("values round-trip: integers, unsigned bit patterns, text with NUL and emoji, empty text and blobs, NULL")
    func valueRoundTrip() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE v (i INTEGER, u INTEGER, s TEXT, b BLOB, n TEXT)")
        let insert = try connection.prepare("INSERT INTO v (i, u, s, b, n) VALUES (?, ?, ?, ?, ?)")
        let rows: [(Int64, UInt64, String, [UInt8])] = [
            (.min, .max, "", []),
            (.max, 0, "a\u{0}b 🔒 ключ", [0, 1, 255]),
            (-1, UInt64(Int64.max) + 1, "plain", [42]),
        ]
        for (i, u, s, b) in rows {
            insert.reset()
            try insert.bind(i, at: 1)
            try insert.bind(u, at: 2)
            try insert.bind(s, at: 3)
            try insert.bind(blob: b, at: 4)
            try insert.bindNull(at: 5)
            try insert.run()
        }
        let select = try connection.prepare("SELECT i, u, s, b, n, s IS NULL, b IS NULL FROM v ORDER BY rowid")
        var read: [(Int64, UInt64, String, [UInt8])] = []
        while try select.step() {
            read.append((select.int64(at: 0), select.uint64(at: 1), select.string(at: 2), select.blob(at: 3)))
            #expect(select.isNull(at: 4))
            #expect(select.int(at: 5) == 0, "empty text must not be NULL")
            #expect(select.int(at: 6) == 0, "an empty blob must not be NULL")
        }
        #expect(read.count == rows.count)
        for (got, want) in zip(read, rows) {
            #expect(got.0 == want.0)
            #expect(got.1 == want.1)
            #expect(got.2 == want.2)
            #expect(got.3 == want.3)
        }
    }

    @Test("prepare refuses several statements, empty SQL and bad syntax")
    func prepareErrors() throws {
        let connection = try self.memory()
        let two = try #require(throws: SQLiteError.self) { try connection.prepare("SELECT 1; SELECT 2") }
        #expect(two.resultCode == .misuse)
        let empty = try #require(throws: SQLiteError.self) { try connection.prepare("  ") }
        #expect(empty.resultCode == .misuse)
        let syntax = try #require(throws: SQLiteError.self) { try connection.prepare("SELEC 1") }
        #expect(syntax.primaryResultCode == .error)
        #expect(syntax.sql == "SELEC 1")
        // A trailing semicolon is still one statement.
        _ = try connection.prepare("SELECT 1;  ")
    }

    @Test("cachedStatement hands back the same statement, reset and unbound")
    func statementCache() throws {
        let connection = try self.memory()
        let first = try connection.cachedStatement("SELECT ?1")
        try first.bind(Int64(7), at: 1)
        #expect(try first.step())
        #expect(first.int64(at: 0) == 7)
        let second = try connection.cachedStatement("SELECT ?1")
        #expect(first === second)
        #expect(try second.step())
        #expect(second.isNull(at: 0))
    }

    @Test("a transaction whose body throws is rolled back")
    func transactionRollback() throws {
        struct Boom: Error {}
        let connection = try self.memory()
        #expect(throws: Boom.self) {
            try connection.transaction(.immediate) {
                try connection.execute("INSERT INTO t (name) VALUES ('x')")
                #expect(connection.isInTransaction)
                throw Boom()
            }
        }
        #expect(!connection.isInTransaction)
        #expect(try connection.pragma("user_version") == "0")
        let count = try connection.prepare("SELECT count(*) FROM t")
        #expect(try count.step())
        #expect(count.int(at: 0) == 0)
        let committed = try connection.transaction { () throws -> Int in
            try connection.execute("INSERT INTO t (name) VALUES ('y')")
            return connection.changes
        }
        #expect(committed == 1)
    }

    @Test("a closed connection fails with SQLITE_MISUSE instead of crashing; close is idempotent")
    func closedConnection() throws {
        let connection = try self.memory()
        let statement = try connection.prepare("SELECT 1")
        connection.close()
        connection.close()
        #expect(connection.isClosed)
        let error = try #require(throws: SQLiteError.self) { try connection.execute("SELECT 1") }
        #expect(error.resultCode == .misuse)
        statement.finalize()
        #expect(throws: SQLiteError.self) { try statement.step() }
    }

    @Test("opening a file in a missing folder fails with SQLITE_CANTOPEN")
    func cannotOpen() throws {
        let error = try #require(throws: SQLiteError.self) {
            try Connection(path: "/nonexistent-leasehold-folder/x.db")
        }
        #expect(error.primaryResultCode == .cannotOpen)
        #expect(error.message?.contains("/nonexistent-leasehold-folder/x.db") == true)
    }

    @Test("pragmas read and set; journal_mode answers the mode in force")
    func pragmas() throws {
        let directory = try TemporaryDirectory()
        let connection = try Connection(path: directory.file("p.db"))
        #expect(try connection.setPragma("journal_mode", to: "WAL") == "wal")
        try connection.setPragma("synchronous", to: "NORMAL")
        #expect(try connection.pragma("synchronous") == "1")
        try connection.setBusyTimeout(.milliseconds(250))
        #expect(try connection.pragma("busy_timeout") == "250")
        let readOnly = try Connection(path: directory.file("p.db"), flags: [.readOnly])
        let error = try #require(throws: SQLiteError.self) { try readOnly.execute("CREATE TABLE x (a)") }
        #expect(error.primaryResultCode == .readOnly)
    }
}
