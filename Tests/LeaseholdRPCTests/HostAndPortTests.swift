import LeaseholdRPC
import Testing

@Suite("HOST:PORT parsing")
struct HostAndPortTests {
    @Test(
        "addresses that parse, with port 0 only where allowed",
        arguments: [(String, Bool, HostAndPort)]([
            ("127.0.0.1:7420", false, HostAndPort(host: "127.0.0.1", port: 7420)),
            ("localhost:1", false, HostAndPort(host: "localhost", port: 1)),
            ("lock.example.com:65535", false, HostAndPort(host: "lock.example.com", port: 65_535)),
            ("[::1]:7420", false, HostAndPort(host: "::1", port: 7420)),
            ("[fe80::1%eth0]:80", false, HostAndPort(host: "fe80::1%eth0", port: 80)),
            ("127.0.0.1:0", true, HostAndPort(host: "127.0.0.1", port: 0)),
            ("[::]:0", true, HostAndPort(host: "::", port: 0)),
            ("0.0.0.0:7420", true, HostAndPort(host: "0.0.0.0", port: 7420)),
        ])
    )
    func valid(text: String, allowingPortZero: Bool, expected: HostAndPort) throws {
        let address = try HostAndPort(parsing: text, allowingPortZero: allowingPortZero)
        #expect(address == expected)
        #expect(try HostAndPort(parsing: address.description, allowingPortZero: allowingPortZero) == address)
    }

    @Test(
        "addresses that do not parse name their first problem",
        arguments: [(String, Bool, HostAndPort.ParseError.Reason)]([
            ("", true, .missingPort),
            ("localhost", true, .missingPort),
            ("7420", true, .missingPort),
            ("localhost:", true, .invalidPort),
            ("localhost:http", true, .invalidPort),
            ("localhost:-1", true, .invalidPort),
            ("localhost:65536", true, .invalidPort),
            ("localhost:74 20", true, .invalidPort),
            ("[::1]", true, .invalidPort),
            (":7420", true, .emptyHost),
            ("[]:7420", true, .emptyHost),
            (":0", false, .emptyHost),
            ("localhost:0", false, .portZero),
            ("[::1]:0", false, .portZero),
        ])
    )
    func invalid(text: String, allowingPortZero: Bool, reason: HostAndPort.ParseError.Reason) {
        #expect(throws: HostAndPort.ParseError(address: text, reason: reason)) {
            try HostAndPort(parsing: text, allowingPortZero: allowingPortZero)
        }
    }

    @Test("the error message quotes the address and says what is wrong")
    func message() {
        let error = HostAndPort.ParseError(address: "localhost:http", reason: .invalidPort)
        #expect("\(error)" == "localhost:http is not HOST:PORT: the port is not a number from 0 to 65535")
    }
}
