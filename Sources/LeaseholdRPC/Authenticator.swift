import Crypto
public import Foundation

/// Maps bearer tokens, and the common names of verified client certificates, to principals.
///
/// Without an auth file every client is ``Principal/anonymous`` and tokens are ignored. With one, a token is
/// accepted when its SHA-256 (lowercase hex) is listed; the file never holds a token in clear. An entry may name a
/// certificate's subject common name (`cert_cn`) instead: a client that sends no token and whose certificate the
/// server verified (mutual TLS) with that common name gets the entry's principal and roles.
///
/// ```swift
/// let authenticator = try Authenticator(authFileAt: "/etc/leasehold/auth.json")
/// let principal = authenticator.authenticate(token: "s3cret")  // nil when unknown
/// ```
public struct Authenticator: Sendable {
    private struct Principals: Sendable {
        var byDigest: [String: Principal] = [:]
        var byCommonName: [String: Principal] = [:]
    }

    private let principals: Principals?

    /// Accepts everybody as ``Principal/anonymous``.
    public static let anonymous = Authenticator(principals: nil)

    private init(principals: Principals?) { self.principals = principals }

    /// Whether tokens are checked at all.
    public var requiresToken: Bool { self.principals != nil }

    /// Parses an auth file's contents:
    /// `{"tokens": [{"principal": "ops", "sha256": "<64 hex digits>", "roles": ["admin"]},
    /// {"principal": "deployer", "cert_cn": "deployer.example", "roles": ["admin"]}]}`.
    /// - Throws: ``AuthFileError`` naming the problem.
    public init(authFileContents data: Data) throws {
        struct File: Decodable {
            struct Entry: Decodable {
                var principal: String
                var sha256: String?
                var certCommonName: String?
                var roles: [String]?

                enum CodingKeys: String, CodingKey {
                    case principal, sha256, roles
                    case certCommonName = "cert_cn"
                }
            }
            var tokens: [Entry]
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch let error as DecodingError {
            throw AuthFileError(message: Self.explain(error))
        }
        var principals = Principals()
        for (index, entry) in file.tokens.enumerated() {
            guard !entry.principal.isEmpty else {
                throw AuthFileError(message: "tokens[\(index)].principal must not be empty")
            }
            let principal = Principal(name: entry.principal, roles: Set(entry.roles ?? []))
            switch (entry.sha256, entry.certCommonName) {
            case (let digest?, nil):
                guard digest.utf8.count == 64, digest.utf8.allSatisfy({ Self.isLowercaseHex($0) }) else {
                    throw AuthFileError(
                        message: "tokens[\(index)].sha256 must be 64 lowercase hex digits "
                            + "(use `leasehold hash-token TOKEN`)"
                    )
                }
                guard principals.byDigest[digest] == nil else {
                    throw AuthFileError(message: "tokens[\(index)].sha256 is listed twice")
                }
                principals.byDigest[digest] = principal
            case (nil, let commonName?):
                guard !commonName.isEmpty else {
                    throw AuthFileError(message: "tokens[\(index)].cert_cn must not be empty")
                }
                guard principals.byCommonName[commonName] == nil else {
                    throw AuthFileError(message: "tokens[\(index)].cert_cn is listed twice")
                }
                principals.byCommonName[commonName] = principal
            case (nil, nil):
                throw AuthFileError(message: "missing \"sha256\" or \"cert_cn\" in tokens[\(index)]")
            case (_?, _?):
                throw AuthFileError(message: "tokens[\(index)] has both \"sha256\" and \"cert_cn\"; give one")
            }
        }
        self.init(principals: principals)
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

    /// The principal for a connection's credentials, or `nil` when they name none.
    ///
    /// A token, when sent, decides alone: a listed token maps to its principal, an unknown one to `nil`. Without a
    /// token, the common name of the client's verified certificate is looked up among the `cert_cn` entries.
    /// - Parameters:
    ///   - token: The `Hello` token; empty for none.
    ///   - certificateCommonName: The subject common name of the client certificate that the TLS handshake
    ///     verified, or nil when there is none.
    public func authenticate(token: String, certificateCommonName: String? = nil) -> Principal? {
        guard let principals = self.principals else { return .anonymous }
        if !token.isEmpty { return principals.byDigest[Self.digest(of: token)] }
        guard let commonName = certificateCommonName else { return nil }
        return principals.byCommonName[commonName]
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
