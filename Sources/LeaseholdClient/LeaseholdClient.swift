public import LeaseholdCore
public import LeaseholdRPC
public import LeaseholdWire
import Synchronization

/// A client of a Leasehold server: sessions, locks, queries and watches over one reconnecting connection.
///
/// ```swift
/// let client = try await LeaseholdClient.connect(.init(host: "127.0.0.1", port: 7420))
/// let session = try await client.openSession(ttl: .seconds(10))
/// try await session.withLock("jobs/42") { lock in
///     try await store.write(row, fencingToken: lock.fencingToken)
/// }
/// for try await event in client.watch(prefix: "jobs/") { print(event) }
/// ```
public final class LeaseholdClient: Sendable {
    /// Where the servers are and how to talk to them.
    public struct Configuration: Sendable {
        /// The nodes to connect to: one server, or the active and standby nodes of a deployment on PostgreSQL.
        /// The client tries them in turn and follows a standby's pointer to the active node (`Status.leader`).
        public var endpoints: [Endpoint]
        /// The bearer token for servers with an auth file.
        public var token: String
        /// A name for the server's logs.
        public var clientName: String
        /// How long connecting (TCP and `Hello`) to one endpoint may take.
        public var connectTimeout: Duration
        /// The deadline of calls that do not wait for a lock.
        public var callTimeout: Duration
        /// The first and the longest pause between reconnection attempts (each pause is drawn between half the
        /// current step and the step, so that clients cut off together do not come back in step).
        public var reconnectBackoff: (initial: Duration, maximum: Duration)
        /// How long ``LeaseholdClient/connect(_:)``, queries, ``LeaseholdClient/openSession(ttl:name:)`` and session
        /// calls keep trying the endpoints (in rounds, pausing by ``reconnectBackoff``) while none answers as the
        /// active node: a failover or a restart in progress. `.zero` makes one round. Nothing is sent before a
        /// connection exists, so waiting here never repeats a call.
        public var failoverTimeout: Duration
        /// TLS for a server that serves it (the CA to verify it with, and a client certificate for mutual TLS);
        /// nil for plaintext.
        public var tls: ClientTLSConfiguration?

        /// The first endpoint's host; setting it replaces the first endpoint's host.
        public var host: String {
            get { self.endpoints.first?.host ?? "" }
            set { self.setFirst(Endpoint(host: newValue, port: self.port)) }
        }

        /// The first endpoint's port; setting it replaces the first endpoint's port.
        public var port: Int {
            get { self.endpoints.first?.port ?? 0 }
            set { self.setFirst(Endpoint(host: self.host, port: newValue)) }
        }

        /// A configuration for one server.
        public init(
            host: String = "127.0.0.1",
            port: Int = 7420,
            token: String = "",
            clientName: String = "leasehold-swift",
            connectTimeout: Duration = .seconds(5),
            callTimeout: Duration = .seconds(10),
            reconnectBackoff: (initial: Duration, maximum: Duration) = (.milliseconds(50), .milliseconds(500)),
            failoverTimeout: Duration = .seconds(10),
            tls: ClientTLSConfiguration? = nil
        ) {
            self.init(
                endpoints: [Endpoint(host: host, port: port)],
                token: token,
                clientName: clientName,
                connectTimeout: connectTimeout,
                callTimeout: callTimeout,
                reconnectBackoff: reconnectBackoff,
                failoverTimeout: failoverTimeout,
                tls: tls
            )
        }

        /// A configuration for several nodes, tried in this order at first.
        public init(
            endpoints: [Endpoint],
            token: String = "",
            clientName: String = "leasehold-swift",
            connectTimeout: Duration = .seconds(5),
            callTimeout: Duration = .seconds(10),
            reconnectBackoff: (initial: Duration, maximum: Duration) = (.milliseconds(50), .milliseconds(500)),
            failoverTimeout: Duration = .seconds(10),
            tls: ClientTLSConfiguration? = nil
        ) {
            self.endpoints = endpoints
            self.token = token
            self.clientName = clientName
            self.connectTimeout = connectTimeout
            self.callTimeout = callTimeout
            self.reconnectBackoff = reconnectBackoff
            self.failoverTimeout = failoverTimeout
            self.tls = tls
        }

        /// Parses `HOST:PORT` (`[::1]:7420` for IPv6), or a comma-separated list of them (`a:7420,b:7420`).
        /// - Throws: ``LeaseholdError`` with `INVALID_ARGUMENT` when it is not an address or a list of them.
        public init(address: String, token: String = "") throws {
            self.init(endpoints: try Endpoint.list(parsing: address), token: token)
        }

        private mutating func setFirst(_ endpoint: Endpoint) {
            if self.endpoints.isEmpty { self.endpoints = [endpoint] } else { self.endpoints[0] = endpoint }
        }
    }

    private struct State {
        var connection: RPCConnection?
        var connecting: Task<RPCConnection, any Error>?
        var closed = false
    }

    /// The configuration the client was made with.
    public let configuration: Configuration
    private let state = Mutex(State())
    private let rotation: Mutex<EndpointRotation>

    private init(configuration: Configuration) {
        self.configuration = configuration
        self.rotation = Mutex(EndpointRotation(configuration.endpoints))
    }

    /// Connects to a server, or to the active node among ``Configuration/endpoints``.
    /// - Parameter configuration: The servers' addresses and the client's settings.
    /// - Returns: A connected client.
    /// - Throws: ``LeaseholdError`` with `UNAVAILABLE` when no endpoint can be reached or none is active within
    ///   ``Configuration/failoverTimeout``, `UNAUTHENTICATED` for a bad token, `INVALID_ARGUMENT` when there is no
    ///   endpoint.
    public static func connect(_ configuration: Configuration) async throws -> LeaseholdClient {
        guard !configuration.endpoints.isEmpty else {
            throw LeaseholdError(code: .invalidArgument, message: "no endpoint to connect to")
        }
        let client = LeaseholdClient(configuration: configuration)
        _ = try await client.connection()
        return client
    }

    /// Connects to the active node among `endpoints`: the client tries them in turn, follows a standby's pointer
    /// to the active node, and after a failover reconnects the same way, resuming its sessions and watches on the
    /// new active node.
    ///
    /// ```swift
    /// let client = try await LeaseholdClient.connect(endpoints: [
    ///     .init(host: "10.0.0.1", port: 7420), .init(host: "10.0.0.2", port: 7420),
    /// ])
    /// ```
    /// - Parameters:
    ///   - endpoints: The nodes, tried in this order at first.
    ///   - configuration: The other settings; its endpoints are replaced by `endpoints`.
    /// - Throws: As ``connect(_:)``.
    public static func connect(
        endpoints: [Endpoint],
        configuration: Configuration = Configuration()
    ) async throws -> LeaseholdClient {
        var configuration = configuration
        configuration.endpoints = endpoints
        return try await Self.connect(configuration)
    }

    /// The server's answer to `Hello` on the current connection.
    public var hello: HelloResponse? { self.state.withLock { $0.connection?.hello } }

    /// Opens a session; the returned ``Session`` keeps itself alive until closed.
    /// - Parameters:
    ///   - ttl: How long the session outlives its last keepalive (1 s – 300 s).
    ///   - name: A name for the server's logs and `Describe`.
    /// - Throws: ``LeaseholdError`` (`INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, `UNAVAILABLE`).
    public func openSession(ttl: Duration = .seconds(10), name: String = "") async throws -> Session {
        let connection = try await self.connection()
        let info = try await connection.unary(
            LeaseholdMethod.openSession,
            OpenSessionRequest(ttl: ttl, name: name),
            timeout: self.configuration.callTimeout
        )
        return Session(client: self, info: info, connection: connection)
    }

    /// The key's holder and FIFO queue.
    public func describe(_ key: String) async throws -> DescribeResponse {
        try await self.call(LeaseholdMethod.describe, DescribeRequest(key: key))
    }

    /// Whether `fencingToken` is the key's current grant.
    public func validate(_ key: String, fencingToken: UInt64) async throws -> ValidateResponse {
        try await self.call(LeaseholdMethod.validate, ValidateRequest(key: key, fencingToken: fencingToken))
    }

    /// Held locks whose key starts with `prefix`, sorted by key.
    /// - Parameters:
    ///   - prefix: A byte prefix; empty lists every lock.
    ///   - limit: At most this many; 0 for no limit.
    public func list(prefix: String = "", limit: UInt32 = 0) async throws -> ListResponse {
        try await self.call(LeaseholdMethod.list, ListRequest(prefix: prefix, limit: limit))
    }

    /// Ends the current hold of `key`, whoever holds it. Needs a token with the role `admin`.
    ///
    /// Sent once: if the connection is lost before the answer, the call fails with `UNAVAILABLE` and the key may or
    /// may not have been released. (Sending it again could release the next holder, granted meanwhile.)
    /// - Returns: The lock that was released and the revision of the release.
    /// - Throws: ``LeaseholdError`` (`PERMISSION_DENIED`, `NOT_FOUND`, `UNAVAILABLE`).
    public func forceRelease(_ key: String, reason: String) async throws -> ForceReleaseResponse {
        try await self.call(LeaseholdMethod.forceRelease, ForceReleaseRequest(key: key, reason: reason), retry: false)
    }

    /// Watches events on keys starting with `prefix`, resuming after reconnects so that every event arrives
    /// exactly once, in revision order.
    /// - Parameters:
    ///   - prefix: A byte prefix; empty watches every key.
    ///   - revision: The first revision wanted (inclusive); 0 for events from now on.
    /// - Returns: The events. The stream throws ``LeaseholdError`` with `COMPACTED` when `revision` is older than
    ///   the server keeps, and ends when the consumer stops iterating.
    public func watch(prefix: String = "", from revision: UInt64 = 0) -> AsyncThrowingStream<Event, any Error> {
        let (events, continuation) = AsyncThrowingStream.makeStream(of: Event.self)
        let task = Task {
            var next = revision
            var backoff = Backoff(self.configuration.reconnectBackoff)
            while !Task.isCancelled {
                do {
                    let connection = try await self.connection(waitingForActive: false)
                    let stream = connection.serverStream(
                        LeaseholdMethod.watch,
                        WatchRequest(prefix: prefix, startRevision: next)
                    )
                    for try await response in stream {
                        backoff.reset()
                        if response.events.isEmpty {
                            if next == 0 { next = response.revision + 1 }  // the live marker of a watch from now
                            continue
                        }
                        for event in response.events where event.revision >= next {
                            continuation.yield(event)
                            next = event.revision + 1
                        }
                    }
                    continuation.finish()
                    return
                } catch let error as LeaseholdError where error.isConnectivity {
                    try? await Task.sleep(for: backoff.next())
                } catch {
                    continuation.finish(throwing: error)
                    return
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return events
    }

    /// Closes the connection. Sessions of this client can no longer keep themselves alive: they report `jeopardy`,
    /// then `expired` at ``Session/confirmedUntil``, and expire on the server after their TTL unless closed first.
    public func close() async {
        let (connection, connecting) = self.state.withLock { state in
            state.closed = true
            defer {
                state.connection = nil
                state.connecting = nil
            }
            return (state.connection, state.connecting)
        }
        connecting?.cancel()
        await connection?.close()
    }

    // MARK: - Internal

    /// A unary call that needs no session; with `retry` (for calls that change nothing: the queries) sent again once
    /// on a fresh connection if the connection was lost.
    func call<Request: WireMessage, Response: WireMessage>(
        _ method: MethodDescriptor<Request, Response>,
        _ request: Request,
        retry: Bool = true
    ) async throws -> Response {
        do {
            return try await self.connection().unary(method, request, timeout: self.configuration.callTimeout)
        } catch let error as LeaseholdError where error.isConnectivity && retry {
            return try await self.connection().unary(method, request, timeout: self.configuration.callTimeout)
        }
    }

    /// The current connection, reconnecting if it has closed.
    ///
    /// One round tries every endpoint in turn and is shared by all callers. With `waitingForActive`, rounds that find
    /// no active node are repeated with the back-off for up to ``Configuration/failoverTimeout`` (the one rule for
    /// callers that make a single call); the keepalive and watch loops make one round at a time, since they have
    /// their own back-off and report each failure.
    func connection(waitingForActive: Bool = true) async throws -> RPCConnection {
        guard waitingForActive else { return try await self.connectionRound() }
        let deadline = ContinuousClock.now + self.configuration.failoverTimeout
        var backoff = Backoff(self.configuration.reconnectBackoff)
        while true {
            do {
                return try await self.connectionRound()
            } catch let error as LeaseholdError where error.isConnectivity {
                // Rounds start until the deadline: the last pause is cut short so that a last round starts at it.
                let left = deadline - ContinuousClock.now
                if self.state.withLock({ $0.closed }) || left <= .zero { throw error }
                try await Task.sleep(for: min(backoff.next(), left))
            }
        }
    }

    /// The current connection, or one round over the endpoints (shared by all callers) if it has closed.
    private func connectionRound() async throws -> RPCConnection {
        enum Next {
            case ready(RPCConnection)
            case wait(Task<RPCConnection, any Error>)
        }
        let next: Next = try self.state.withLock { state in
            guard !state.closed else { throw LeaseholdError(code: .unavailable, message: "the client is closed") }
            if let connection = state.connection, connection.isActive { return .ready(connection) }
            if let connecting = state.connecting { return .wait(connecting) }
            let task = Task { try await self.connectToActive() }
            state.connecting = task
            return .wait(task)
        }
        switch next {
        case .ready(let connection):
            return connection
        case .wait(let task):
            do {
                let connection = try await task.value
                let closed = self.state.withLock { state in
                    if state.connecting == task {
                        state.connecting = nil
                        state.connection = connection
                    }
                    return state.closed
                }
                if closed {
                    // Closed while the round ran: nobody else will close this connection.
                    await connection.close()
                    throw LeaseholdError(code: .unavailable, message: "the client is closed")
                }
                return connection
            } catch {
                self.state.withLock { state in
                    if state.connecting == task { state.connecting = nil }
                }
                throw error
            }
        }
    }

    /// One round over the endpoints (``EndpointRotation``): the first that accepts `Hello` is the connection.
    /// - Throws: A single endpoint's error as it is; after several endpoints failed, `UNAVAILABLE` naming each.
    private func connectToActive() async throws -> RPCConnection {
        let configuration = self.configuration
        var round = self.rotation.withLock { $0.startRound() }
        var failures: [(endpoint: Endpoint, error: LeaseholdError)] = []
        while let endpoint = round.next() {
            do {
                let connection = try await RPCConnection.connect(
                    host: endpoint.host,
                    port: endpoint.port,
                    hello: HelloRequest(clientName: configuration.clientName, token: configuration.token),
                    connectTimeout: configuration.connectTimeout,
                    tls: configuration.tls
                )
                self.rotation.withLock { $0.connected(to: endpoint) }
                return connection
            } catch let error as LeaseholdError where error.isConnectivity {
                self.rotation.withLock { $0.failed(endpoint) }
                round.refused(naming: error.leader)
                failures.append((endpoint, error))
                try Task.checkCancellation()
            }
        }
        if failures.count == 1 { throw failures[0].error }
        let each = failures.map { "\($0.endpoint): \($0.error.message)" }.joined(separator: "; ")
        throw LeaseholdError(
            code: .unavailable,
            message: "no active server among \(failures.count) addresses (\(each))",
            cause: failures.last?.error
        )
    }

    /// Drops `connection` if it is still the current one, so that the next call reconnects (a connection whose
    /// calls time out may be to a server that stopped answering).
    func discard(_ connection: RPCConnection) async {
        let current = self.state.withLock { state -> Bool in
            guard state.connection === connection else { return false }
            state.connection = nil
            return true
        }
        if current { await connection.close() }
    }
}

extension LeaseholdError {
    /// Whether the error says nothing about the request, only that the server could not be reached or answer in
    /// time: worth retrying on a new connection.
    var isConnectivity: Bool { self.code == .unavailable || self.cause is NoAnswerWithinDeadline }
}

/// Exponential backoff between reconnection attempts, with jitter: each pause is drawn between half the current step
/// and the step ("equal jitter"), so that clients cut off by one failover spread their attempts.
struct Backoff {
    private let initial: Duration
    private let maximum: Duration
    private var current: Duration

    init(_ bounds: (initial: Duration, maximum: Duration)) {
        self.initial = bounds.initial
        self.maximum = bounds.maximum
        self.current = bounds.initial
    }

    mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return self.next(using: &generator)
    }

    /// The next pause, drawn with `generator` (tests pass a seeded one).
    mutating func next(using generator: inout some RandomNumberGenerator) -> Duration {
        defer { self.current = min(self.current * 2, self.maximum) }
        return self.current / 2 + self.current / 2 * Double.random(in: 0...1, using: &generator)
    }

    mutating func reset() { self.current = self.initial }
}
