import LeaseholdWire
import Testing

@testable import LeaseholdClient

@Suite("Which endpoint the client tries next")
struct EndpointRotationTests {
    private let a = LeaseholdClient.Endpoint(host: "10.0.0.1", port: 7420)
    private let b = LeaseholdClient.Endpoint(host: "10.0.0.2", port: 7420)
    private let c = LeaseholdClient.Endpoint(host: "10.0.0.3", port: 7420)

    @Test("a round tries every endpoint once, in the configured order, duplicates dropped")
    func oneRoundInOrder() {
        var round = EndpointRotation([self.a, self.b, self.a, self.c]).startRound()
        #expect(round.next() == self.a)
        #expect(round.next() == self.b)
        #expect(round.next() == self.c)
        #expect(round.next() == nil)
        #expect(round.next() == nil)
    }

    @Test("a standby's pointer to the active node is tried next")
    func followsTheLeader() {
        var round = EndpointRotation([self.a, self.b, self.c]).startRound()
        #expect(round.next() == self.a)
        round.refused(naming: "10.0.0.3:7420")
        #expect(round.next() == self.c)
        #expect(round.next() == self.b)
        #expect(round.next() == nil)
    }

    @Test("a pointer to an address the round already tried, or no pointer, changes nothing; so a round always ends")
    func pointersThatChangeNothing() {
        var round = EndpointRotation([self.a, self.b]).startRound()
        #expect(round.next() == self.a)
        round.refused(naming: "")
        #expect(round.next() == self.b)
        round.refused(naming: "10.0.0.1:7420")  // A refused already in this round: the pointer is stale
        #expect(round.next() == nil)
        #expect(round.tried == [self.a, self.b])
    }

    @Test("two standbys pointing at each other end the round after one attempt each")
    func noLoopBetweenStandbys() {
        var round = EndpointRotation([self.a, self.b]).startRound()
        var attempts = 0
        while let endpoint = round.next() {
            attempts += 1
            round.refused(naming: endpoint == self.a ? "10.0.0.2:7420" : "10.0.0.1:7420")
            #expect(attempts <= 2)
        }
        #expect(attempts == 2)
    }

    @Test("a pointer outside the configured list is tried, kept while it works, and forgotten once it fails")
    func unlistedLeader() {
        let d = LeaseholdClient.Endpoint(host: "10.0.0.4", port: 7420)
        var rotation = EndpointRotation([self.a, self.b])
        var round = rotation.startRound()
        #expect(round.next() == self.a)
        rotation.failed(self.a)
        round.refused(naming: "10.0.0.4:7420")
        #expect(round.next() == d)
        rotation.connected(to: d)
        #expect(rotation.order == [d, self.b, self.a])
        rotation.failed(d)
        #expect(rotation.order == [self.b, self.a])
    }

    @Test("the next round starts with the node that last accepted, and tries nodes that failed last")
    func nextRoundOrder() {
        var rotation = EndpointRotation([self.a, self.b, self.c])
        rotation.failed(self.a)
        rotation.connected(to: self.b)
        #expect(rotation.order == [self.b, self.c, self.a])
        // B dies: the next round tries it first, then C, then A.
        rotation.failed(self.b)
        var round = rotation.startRound()
        #expect(round.next() == self.c)
        #expect(round.next() == self.a)
        #expect(round.next() == self.b)
    }

    @Test("an unparsable pointer is ignored")
    func badPointer() {
        var round = EndpointRotation([self.a, self.b]).startRound()
        _ = round.next()
        round.refused(naming: "not an address")
        #expect(round.next() == self.b)
    }

    @Test("address lists parse HOST:PORT items separated by commas, IPv6 in brackets")
    func parsing() throws {
        let parsed = try LeaseholdClient.Endpoint.list(parsing: "a:7420, [::1]:7421,b:1")
        #expect(parsed.map(\.description) == ["a:7420", "[::1]:7421", "b:1"])
        #expect(parsed[1].host == "::1")
        for bad in ["", " , ", "a:7420,,b:7420", "a:7420,b", "a:0"] {
            let error = #expect(throws: LeaseholdError.self, "\(bad)") {
                _ = try LeaseholdClient.Endpoint.list(parsing: bad)
            }
            #expect(error?.code == .invalidArgument)
        }
        let configuration = try LeaseholdClient.Configuration(address: "a:1,b:2")
        #expect(configuration.endpoints.count == 2)
        #expect(configuration.host == "a" && configuration.port == 1)
    }
}
