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
        let body =
            #"{"sessions":[{"session_id":7,"owner":"ba\"tch","name":"w-1","ttl_ms":10000,"expires_in_ms":450,"#
            + #""locks":["jobs/a"]},"#
            + #"{"session_id":3,"owner":"ops","name":"","ttl_ms":2500,"expires_in_ms":0,"locks":[]}]}"#
        let sessions = try SessionsFetch.decode(Self.response(status: "200 OK", body: body + "\n"))
        #expect(
            sessions == [
                .init(
                    sessionID: SessionID(7),
                    owner: "ba\"tch",
                    name: "w-1",
                    ttl: .seconds(10),
                    expiresIn: .milliseconds(450),
                    locks: ["jobs/a"]
                ),
                .init(
                    sessionID: SessionID(3),
                    owner: "ops",
                    name: "",
                    ttl: .milliseconds(2_500),
                    expiresIn: .zero,
                    locks: []
                ),
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
