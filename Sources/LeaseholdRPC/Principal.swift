/// Who a connection speaks for, established by `Hello` (docs/protocol.md).
public struct Principal: Hashable, Sendable, CustomStringConvertible {
    /// The principal's name; sessions record it as their `owner`.
    public var name: String
    /// Roles such as `admin`.
    public var roles: Set<String>

    public init(name: String, roles: Set<String> = []) {
        self.name = name
        self.roles = roles
    }

    /// Everybody, when the server runs without an auth file.
    public static let anonymous = Principal(name: "anonymous")

    /// Whether the principal has `role`.
    public func hasRole(_ role: String) -> Bool { self.roles.contains(role) }

    public var description: String { self.name }
}
