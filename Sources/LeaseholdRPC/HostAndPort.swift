/// A `HOST:PORT` address as command-line options and `LEASEHOLD_SERVER` spell it, with `[::1]:7420` for IPv6.
///
/// ```swift
/// let server = try HostAndPort(parsing: "[::1]:7420")  // host "::1", port 7420
/// let listen = try HostAndPort(parsing: "127.0.0.1:0", allowingPortZero: true)  // the kernel picks the port
/// ```
public struct HostAndPort: Hashable, Sendable, CustomStringConvertible {
    /// Text that is not a usable `HOST:PORT`.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        /// What is wrong with an address.
        public struct Reason: Hashable, Sendable, CustomStringConvertible {
            private enum Value: Hashable, Sendable {
                case missingPort, invalidPort, emptyHost, portZero
            }

            private let value: Value

            /// There is no `:` before a port.
            public static let missingPort = Reason(value: .missingPort)
            /// What follows the last `:` is not a number from 0 to 65535.
            public static let invalidPort = Reason(value: .invalidPort)
            /// Nothing comes before the last `:` (or only `[]`).
            public static let emptyHost = Reason(value: .emptyHost)
            /// The port is 0, which only a server that listens may use (the kernel then picks one).
            public static let portZero = Reason(value: .portZero)

            /// The problem in words, such as `the host is empty`.
            public var description: String {
                switch self.value {
                case .missingPort: "it has no :PORT"
                case .invalidPort: "the port is not a number from 0 to 65535"
                case .emptyHost: "the host is empty"
                case .portZero: "port 0 is only for listening"
                }
            }
        }

        /// The text that was parsed.
        public var address: String
        /// The first problem found.
        public var reason: Reason

        /// The error for `address` and its first problem.
        public init(address: String, reason: Reason) {
            self.address = address
            self.reason = reason
        }

        /// `ADDRESS is not HOST:PORT: REASON`.
        public var description: String { "\(self.address) is not HOST:PORT: \(self.reason)" }
    }

    /// A host name or an IP address, without the brackets of an IPv6 address.
    public var host: String
    /// A TCP port, 0 to 65535.
    public var port: Int

    /// An address from its parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`: the port follows the last `:`, and an IPv6 host is written in brackets (`[::1]:7420`).
    ///
    /// The checks run in this order, and the first that fails is the ``ParseError/reason``: a `:` is present, the
    /// port is a number from 0 to 65535, the host is not empty, and the port is not 0 unless `allowingPortZero`.
    /// - Parameters:
    ///   - address: The text, such as `127.0.0.1:7420` or `[::1]:7420`.
    ///   - allowingPortZero: Whether port 0 is accepted: true for an address to listen on (the kernel picks a free
    ///     port), false for one to connect to.
    /// - Throws: ``ParseError`` naming the first problem.
    public init(parsing address: String, allowingPortZero: Bool = false) throws {
        guard let colon = address.lastIndex(of: ":") else {
            throw ParseError(address: address, reason: .missingPort)
        }
        guard let port = Int(address[address.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ParseError(address: address, reason: .invalidPort)
        }
        var host = address[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { throw ParseError(address: address, reason: .emptyHost) }
        guard allowingPortZero || port != 0 else { throw ParseError(address: address, reason: .portZero) }
        self.init(host: String(host), port: port)
    }

    /// `HOST:PORT`, with an IPv6 host in brackets: text that ``init(parsing:allowingPortZero:)`` reads back.
    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}
