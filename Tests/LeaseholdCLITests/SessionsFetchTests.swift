import LeaseholdCore
import Testing

@testable import LeaseholdCLI

@Suite("leasehold top reads GET /sessions")
struct SessionsFetchTests {
    static func response(status: String, body: String) -> [UInt8] {
        Array(
            "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                .utf8
        )
    }

    @Test("a 200 answer becomes the sessions in its order, times in milliseconds")
    func decodes() throws {
        let sessions = try SessionsFetch.decode(Self.response(status: "200 OK", body: SessionFixtures.body + "\n"))
        #expect(sessions == SessionFixtures.expiring)
        // An escaped quote in a string; no time left.
        let escaped =
            #"{"sessions":[{"session_id":5,"owner":"ba\"tch","name":"","ttl_ms":1,"expires_in_ms":0,"locks":[]}]}"#
        #expect(
            try SessionsFetch.decode(Self.response(status: "200 OK", body: escaped)) == [
                SessionFixtures.session(5, owner: "ba\"tch", ttl: .milliseconds(1), expiresIn: .zero)
            ]
        )
    }

    @Test("another status, cut-off headers or other JSON are errors that say which")
    func refuses() {
        #expect(throws: SessionsFetch.Failure.self) {
            try SessionsFetch.decode(Self.response(status: "404 Not Found", body: "not found"))
        }
        #expect(throws: SessionsFetch.Failure.self) { try SessionsFetch.decode(Array("HTTP/1.1 200 OK\r\n".utf8)) }
        #expect(throws: SessionsFetch.Failure.self) {
            try SessionsFetch.decode(Self.response(status: "200 OK", body: #"{"locks":[]}"#))
        }
    }
}
