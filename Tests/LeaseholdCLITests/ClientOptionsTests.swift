import ArgumentParser
import LeaseholdClient
import Testing

@testable import LeaseholdCLI

/// The options every client command shares, parsed as the command line gives them.
@Suite("Client options")
struct ClientOptionsTests {
    @Test("--failover-timeout sets how long a command waits for an active node; 10 s unless given")
    func failoverTimeout() throws {
        let defaults = try ClientOptions.parse(["--server", "a:7420,b:7420"]).configuration()
        #expect(defaults.failoverTimeout == .seconds(10))
        #expect(defaults.endpoints.count == 2)
        let given = try ClientOptions.parse(["--server", "a:7420", "--failover-timeout", "250ms"]).configuration()
        #expect(given.failoverTimeout == .milliseconds(250))
        #expect(try ClientOptions.parse(["--failover-timeout", "0s"]).configuration().failoverTimeout == .zero)
        #expect(throws: (any Error).self) { try ClientOptions.parse(["--failover-timeout", "soon"]) }
    }
}
