import LeaseholdRPC
import LeaseholdWire

extension LeaseholdClient {
    /// The address of one Leasehold node.
    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        /// A host name or an IP address, without the brackets of an IPv6 address.
        public var host: String
        /// The node's RPC port.
        public var port: Int

        /// An endpoint from its parts.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses `HOST:PORT` (`[::1]:7420` for IPv6).
        /// - Throws: ``LeaseholdError`` with `INVALID_ARGUMENT` when it is not an address to connect to.
        public init(parsing address: String) throws {
            let parsed: HostAndPort
            do {
                parsed = try HostAndPort(parsing: address)
            } catch let error as HostAndPort.ParseError where error.reason == .emptyHost {
                throw LeaseholdError(code: .invalidArgument, message: "\(address) has no host")
            } catch {
                throw LeaseholdError(code: .invalidArgument, message: "\(address) is not HOST:PORT")
            }
            self.init(host: parsed.host, port: parsed.port)
        }

        /// Parses a comma-separated list of `HOST:PORT`, such as `a:7420,b:7420`; spaces are ignored.
        /// - Throws: ``LeaseholdError`` with `INVALID_ARGUMENT` when an item is not an address, or there is none.
        public static func list(parsing addresses: String) throws -> [Endpoint] {
            let items = addresses.split(separator: ",", omittingEmptySubsequences: false).map {
                String($0.filter { $0 != " " })
            }
            guard items.contains(where: { !$0.isEmpty }) else {
                throw LeaseholdError(code: .invalidArgument, message: "no address in \"\(addresses)\"")
            }
            return try items.map { try Endpoint(parsing: $0) }
        }

        /// `HOST:PORT`, with an IPv6 host in brackets.
        public var description: String { HostAndPort(host: self.host, port: self.port).description }
    }
}

/// Which node to try next: the part of following the active node among several addresses that needs no I/O.
///
/// The client keeps one rotation. Each reconnection is one ``Round`` over the known endpoints, most promising
/// first: the node that last accepted a connection leads, a node that failed moves to the back. A standby's refusal
/// that names the active (`Status.leader`) puts that address next in the round, unless the round already tried it;
/// so a round makes at most one attempt per address and always ends.
struct EndpointRotation: Sendable {
    /// The order in which the next round tries the endpoints.
    private(set) var order: [LeaseholdClient.Endpoint]
    /// The endpoints the client was configured with; a leader named by a standby joins ``order`` only until it
    /// fails.
    private let configured: Set<LeaseholdClient.Endpoint>

    /// A rotation over `endpoints`, tried in the given order at first (duplicates dropped).
    init(_ endpoints: [LeaseholdClient.Endpoint]) {
        var seen = Set<LeaseholdClient.Endpoint>()
        self.order = endpoints.filter { seen.insert($0).inserted }
        self.configured = seen
    }

    /// Starts a reconnection: every known endpoint once, in ``order``.
    func startRound() -> Round { Round(pending: self.order) }

    /// `endpoint` accepted a connection: the next round tries it first.
    mutating func connected(to endpoint: LeaseholdClient.Endpoint) {
        self.order.removeAll { $0 == endpoint }
        self.order.insert(endpoint, at: 0)
    }

    /// `endpoint` could not be reached or refused: the next round tries it last (or forgets it, when it was only
    /// named by a standby).
    mutating func failed(_ endpoint: LeaseholdClient.Endpoint) {
        self.order.removeAll { $0 == endpoint }
        if self.configured.contains(endpoint) { self.order.append(endpoint) }
    }

    /// One pass over the endpoints.
    struct Round: Sendable {
        private var pending: [LeaseholdClient.Endpoint]
        private(set) var tried: [LeaseholdClient.Endpoint] = []

        init(pending: [LeaseholdClient.Endpoint]) { self.pending = pending }

        /// The next endpoint to try, or nil when every one has been tried in this round.
        mutating func next() -> LeaseholdClient.Endpoint? {
            while !self.pending.isEmpty {
                let endpoint = self.pending.removeFirst()
                if !self.tried.contains(endpoint) {
                    self.tried.append(endpoint)
                    return endpoint
                }
            }
            return nil
        }

        /// The last endpoint refused the connection naming `leader` as the active node (`Status.leader`, empty
        /// when the standby knows none): try that one next, unless this round already did.
        mutating func refused(naming leader: String) {
            guard !leader.isEmpty, let endpoint = try? LeaseholdClient.Endpoint(parsing: leader) else { return }
            guard !self.tried.contains(endpoint) else { return }
            self.pending.insert(endpoint, at: 0)
        }
    }
}
