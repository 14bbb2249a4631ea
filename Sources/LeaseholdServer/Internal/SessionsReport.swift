import Foundation
import LeaseholdCore

/// `GET /sessions` on the metrics endpoint: the live sessions closest to expiry, as one JSON object, for
/// `leasehold top` (which decodes this same type) and for an operator's `curl`.
///
/// ```
/// GET /sessions?limit=2
/// {"sessions":[{"expires_in_ms":1250,"locks":["jobs/1"],"name":"worker-1","owner":"ops","session_id":7,
///   "ttl_ms":10000}, ...]}
/// ```
///
/// Field names are the protocol's (`SessionInfo`); sessions come soonest first.
package struct SessionsReport: Codable, Hashable, Sendable {
    /// One live session.
    package struct Session: Codable, Hashable, Sendable {
        package var sessionID: UInt64
        package var owner: String
        package var name: String
        package var ttlMilliseconds: Int64
        /// Time left when the report was made.
        package var expiresInMilliseconds: Int64
        /// The keys it holds, sorted.
        package var locks: [String]

        enum CodingKeys: String, CodingKey {
            case sessionID = "session_id"
            case owner
            case name
            case ttlMilliseconds = "ttl_ms"
            case expiresInMilliseconds = "expires_in_ms"
            case locks
        }
    }

    /// Sessions listed when the request names no limit.
    package static let defaultLimit = 10
    /// The largest limit a request may ask for.
    package static let maxLimit = 1_000

    /// The sessions, soonest to expire first.
    package var sessions: [Session]

    /// The report of `sessions`, in their order.
    /// - Parameter sessions: As ``LockService/sessionsClosestToExpiry(limit:)`` returns them.
    init(_ sessions: [LockTable.SessionDescription]) {
        self.sessions = sessions.map {
            Session(
                sessionID: $0.id.rawValue,
                owner: $0.owner,
                name: $0.name,
                ttlMilliseconds: $0.ttl.wholeMilliseconds,
                expiresInMilliseconds: $0.expiresIn.wholeMilliseconds,
                locks: $0.locks.map(\.key)
            )
        }
    }

    /// The limit a request target asks for: `/sessions` (``defaultLimit``), `/sessions?limit=25`.
    /// - Parameter query: What follows `?` in the request target, if anything.
    /// - Returns: The limit, or nil when the query is not `limit=N` with N from 1 to ``maxLimit``.
    static func limit(query: Substring?) -> Int? {
        guard let query, !query.isEmpty else { return Self.defaultLimit }
        guard query.hasPrefix("limit="), let limit = Int(query.dropFirst("limit=".count)),
            (1...Self.maxLimit).contains(limit)
        else { return nil }
        return limit
    }

    /// The report as UTF-8 JSON (keys sorted), ending with a newline.
    package func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, integers and arrays of them: encoding cannot fail.
        return Array((try? encoder.encode(self)) ?? Data("{\"sessions\":[]}".utf8)) + [UInt8(ascii: "\n")]
    }
}
