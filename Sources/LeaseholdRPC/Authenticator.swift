import Crypto
public import Foundation

/// Maps bearer tokens to principals.
///
/// Without an auth file every client is ``Principal/anonymous`` and tokens are ignored. With one, a token is
/// accepted when its SHA-256 (lowercase hex) is listed; the file never holds a token in clear.
///
/// ```swift
/// let authenticator = try Authenticator(authFileAt: "/etc/leasehold/auth.json")
/// let principal = authenticator.authenticate(token: "s3cret")  // nil when unknown
/// ```
public struct Authenticator: Sendable {
    private let principalsByDigest: [String: Principal]?

    /// Accepts everybody as ``Principal/anonymous``.
    public static let anonymous = Authenticator(principalsByDigest: nil)

    private init(principalsByDigest: [String: Principal]?) { self.principalsByDigest = principalsByDigest }

    /// Whether tokens are checked at all.
    public var requiresToken: Bool { self.principalsByDigest != nil }

    /// Parses an auth file's contents:
    /// `{"tokens": [{"principal": "ops", "sha256": "<64 hex digits>", "roles": ["admin"]}]}`.
    /// - Throws: ``AuthFileError`` naming the problem.
    public init(authFileContents data: Data) throws {
        struct File: Decodable {
            struct Entry: Decodable {
                var principal: String
                var sha256: String
                var roles: [String]?
            }
            var tokens: [Entry]
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch let error as DecodingError {
            throw AuthFileError(message: Self.explain(error))
        }
        var principals: [String: Principal] = [:]
        for (index, entry) in file.tokens.enumerated() {
            let digest = entry.sha256
            guard digest.utf8.count == 64, digest.utf8.allSatisfy({ Self.isLowercaseHex($0) }) else {
                throw AuthFileError(
                    message: "tokens[\(index)].sha256 must be 64 lowercase hex digits "
                        + "(use `leasehold hash-token TOKEN`)"
                )
            }
            guard !entry.principal.isEmpty else {
                throw AuthFileError(message: "tokens[\(index)].principal must not be empty")
            }
            guard principals[digest] == nil else {
                throw AuthFileError(message: "tokens[\(index)].sha256 is listed twice")
            }
            principals[digest] = Principal(name: entry.principal, roles: Set(entry.roles ?? []))
        }
        self.init(principalsByDigest: principals)
    }

    /// Reads and parses the auth file at `path`.
    /// - Throws: ``AuthFileError`` when the file cannot be read or does not parse.
    public init(authFileAt path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AuthFileError(message: "cannot read \(path): \(error.localizedDescription)")
        }
        do {
            try self.init(authFileContents: data)
        } catch let error as AuthFileError {
            throw AuthFileError(message: "\(path): \(error.message)")
        }
    }

    /// The principal for `token`, or `nil` when the token is unknown or missing.
    public func authenticate(token: String) -> Principal? {
        guard let principalsByDigest = self.principalsByDigest else { return .anonymous }
        guard !token.isEmpty else { return nil }
        return principalsByDigest[Self.digest(of: token)]
    }

    /// The lowercase hex SHA-256 of `token`, as the auth file lists it.
    public static func digest(of token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private static func isLowercaseHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }

    private static func explain(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }
            return path.isEmpty
                ? "the top level" : path.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing \"\(key.stringValue)\" in \(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type at \(path(context)): \(context.debugDescription)"
        case .dataCorrupted(let context):
            return "not valid JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// An auth file that cannot be used; the server refuses to start with it.
public struct AuthFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { "auth file: \(self.message)" }
}
