/// Where the PostgreSQL database is and who to log in as: `postgres://USER[:PASSWORD]@HOST:PORT/DB`.
///
/// ```swift
/// var endpoint = try PostgresEndpoint(url: "postgres://leasehold@db1:5432/leasehold")
/// endpoint.password = environment["PGPASSWORD"]
/// ```
public struct PostgresEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    /// `nil` when the server needs none (trust, peer) or it comes from elsewhere.
    public var password: String?
    public var database: String

    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// Parses `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (also `postgresql://`). Percent-escapes in the user and
    /// password are decoded; an IPv6 host goes in brackets.
    /// - Throws: ``InvalidPostgresURL`` naming what is wrong.
    public init(url: String) throws {
        var rest: Substring
        if url.hasPrefix("postgres://") {
            rest = url.dropFirst("postgres://".count)
        } else if url.hasPrefix("postgresql://") {
            rest = url.dropFirst("postgresql://".count)
        } else {
            throw InvalidPostgresURL(url: url, reason: "it does not start with postgres://")
        }
        guard let at = rest.lastIndex(of: "@") else {
            throw InvalidPostgresURL(url: url, reason: "it names no user (postgres://USER@HOST:PORT/DB)")
        }
        let credentials = rest[..<at]
        rest = rest[rest.index(after: at)...]
        guard let slash = rest.firstIndex(of: "/") else {
            throw InvalidPostgresURL(url: url, reason: "it names no database (…/DB)")
        }
        let database = rest[rest.index(after: slash)...].prefix { $0 != "?" }
        let hostPort = rest[..<slash]
        var host: Substring
        var port = 5432
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw InvalidPostgresURL(url: url, reason: "an IPv6 host lacks its closing ]")
            }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65535).contains(value) else {
                    throw InvalidPostgresURL(url: url, reason: "the port is not a number in 1...65535")
                }
                port = value
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            guard let value = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(value) else {
                throw InvalidPostgresURL(url: url, reason: "the port is not a number in 1...65535")
            }
            port = value
        } else {
            host = hostPort
        }
        let user: Substring
        var password: String?
        if let colon = credentials.firstIndex(of: ":") {
            user = credentials[..<colon]
            password = Self.percentDecoded(credentials[credentials.index(after: colon)...])
        } else {
            user = credentials
        }
        guard !user.isEmpty else { throw InvalidPostgresURL(url: url, reason: "the user is empty") }
        guard !host.isEmpty else { throw InvalidPostgresURL(url: url, reason: "the host is empty") }
        guard !database.isEmpty else { throw InvalidPostgresURL(url: url, reason: "the database is empty") }
        self.init(
            host: String(host),
            port: port,
            user: Self.percentDecoded(user),
            password: password,
            database: String(database)
        )
    }

    /// The URL without the password, for logs and messages.
    public var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(self.user)@\(host):\(self.port)/\(self.database)"
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A `--store postgres://…` value that does not parse.
public struct InvalidPostgresURL: Error, Hashable, Sendable, CustomStringConvertible {
    public var url: String
    public var reason: String
    public var description: String { "invalid PostgreSQL URL: \(self.reason)" }
}
