import LeaseholdCore

@testable import LeaseholdCLI

/// Sessions close to expiry, as the server's `GET /sessions` lists them: what `SessionsFetchTests` decodes and
/// `TopScreenTests` shows.
enum SessionFixtures {
    /// One session close to expiry.
    static func session(
        _ id: UInt64,
        owner: String,
        name: String = "",
        ttl: Duration,
        expiresIn: Duration,
        locks: [String] = []
    ) -> TopState.Expiring {
        TopState.Expiring(
            sessionID: SessionID(id),
            owner: owner,
            name: name,
            ttl: ttl,
            expiresIn: expiresIn,
            locks: locks
        )
    }

    /// Three sessions, soonest to expiry first: one holding a key, one with no name holding nothing, and one holding
    /// more keys than a row shows.
    static let expiring = [
        Self.session(
            7,
            owner: "batch",
            name: "worker-1",
            ttl: .seconds(10),
            expiresIn: .milliseconds(450),
            locks: ["jobs/a"]
        ),
        Self.session(3, owner: "ops", ttl: .milliseconds(2_500), expiresIn: .milliseconds(2_100)),
        Self.session(
            12,
            owner: "batch",
            name: "worker-2",
            ttl: .seconds(300),
            expiresIn: .seconds(95),
            locks: ["a", "b", "c", "d", "e"]
        ),
    ]

    /// ``expiring`` as the body of the server's answer, written out by hand.
    static let body =
        #"{"sessions":[{"session_id":7,"owner":"batch","name":"worker-1","ttl_ms":10000,"expires_in_ms":450,"#
        + #""locks":["jobs/a"]},"#
        + #"{"session_id":3,"owner":"ops","name":"","ttl_ms":2500,"expires_in_ms":2100,"locks":[]},"#
        + #"{"session_id":12,"owner":"batch","name":"worker-2","ttl_ms":300000,"expires_in_ms":95000,"#
        + #""locks":["a","b","c","d","e"]}]}"#
}
