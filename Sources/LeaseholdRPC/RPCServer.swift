public import LeaseholdWire
public import Logging
public import NIOCore
public import NIOPosix
import NIOSSL
import Synchronization

/// Serves ``RPCService``s over TCP: length-prefixed `leasehold.v1.Frame`s, many concurrent calls per connection.
///
/// `Hello` belongs to this layer: every server built on it answers `leasehold.v1.Leasehold/Hello` and refuses other
/// calls before it (docs/protocol.md).
///
/// ```swift
/// let server = RPCServer(configuration: .init(host: "127.0.0.1", port: 0), services: [myService], logger: logger)
/// let address = try await server.start()
/// // …
/// await server.stop()
/// ```
public final class RPCServer: Sendable {
    /// Bounds that keep one client from exhausting the server.
    public struct Limits: Sendable {
        /// The largest frame accepted (`max_frame_bytes`).
        public var maxFrameBytes: Int = 1 << 20
        /// Calls open at once on one connection; more get `RESOURCE_EXHAUSTED`.
        public var maxConcurrentCallsPerConnection: Int = 10_000
        /// Bytes of one stream's items the server buffers for a client that does not read; past it the stream
        /// ends with `RESOURCE_EXHAUSTED`.
        public var maxBufferedBytesPerStream: Int = 1 << 20
        /// The connection's outbound buffer above which the server stops reading that connection's requests.
        public var writeBufferHighWatermark: Int = 256 << 10
        /// The kernel send buffer per connection (`SO_SNDBUF`), or nil for the system's default. Together with the
        /// stream bound it caps the memory a client that does not read can pin.
        public var socketSendBufferBytes: Int?
        /// Client connections open at once; one more is answered with a connection-level `RESOURCE_EXHAUSTED` frame
        /// and closed. `leasehold serve --max-connections`.
        public var maxConnections: Int = 10_000
        /// How long a new connection has to complete a successful `Hello`; past it the connection gets a
        /// connection-level `UNAUTHENTICATED` frame and is closed. `--hello-timeout`.
        public var helloTimeout: Duration = .seconds(30)
        /// How long a frame may take from its first byte to its last (a client that trickles or stops mid-frame);
        /// past it the connection gets a connection-level `DEADLINE_EXCEEDED` frame and is closed. `--frame-timeout`.
        public var frameTimeout: Duration = .seconds(30)
        /// How long the listener stops accepting after `accept` fails for want of resources (the process is at its
        /// file-descriptor limit): without a pause it would retry in a tight loop and spin a core.
        public var acceptBackoff: Duration = .milliseconds(250)
        /// The longest `client_name` accepted in `Hello`, in UTF-8 bytes; longer gets `INVALID_ARGUMENT`.
        /// `--max-name-bytes`.
        public var maxClientNameBytes: Int = 256
        public init() {}
    }

    /// What the server listens on and how it describes itself.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var limits = Limits()
        public var authenticator: Authenticator = .anonymous
        /// Sent in `HelloResponse.server_version`.
        public var serverVersion: String = "0.1.0"
        /// Sent in `HelloResponse.server_id`.
        public var serverID: String = "leasehold"
        /// Told when each call ends (metrics); nil for none.
        public var observer: (any RPCCallObserver)?
        /// Asked at every call, `Hello` included: a status to refuse it with (a standby's `UNAVAILABLE` naming the
        /// active node, or a node's that is no longer sure of its lease), or `nil` to serve. `nil` (the default)
        /// costs nothing.
        public var callRefusal: (@Sendable () -> Status?)?
        /// TLS on the port, nil for plaintext. A plaintext client of a TLS port is refused (its connection closed
        /// and logged); ``RPCServer/reloadTLS()`` reads the files again.
        public var tls: ServerTLSConfiguration?

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    private struct State {
        var serverChannel: (any Channel)?
        var connections: [ConnectionID: any Channel] = [:]
        var nextConnectionID: UInt64 = 1
        var stopped = false
        /// What new connections handshake with, when the port serves TLS.
        var tlsContext: NIOSSLContext?
    }

    private let configuration: Configuration
    private let shared: ServerConnectionHandler.Shared
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())

    /// Creates a server; nothing listens until ``start()``.
    /// - Parameters:
    ///   - configuration: Address, limits and authentication.
    ///   - services: The services to serve; method names must be unique.
    ///   - logger: Where the server logs.
    ///   - group: The event loops for I/O.
    public init(
        configuration: Configuration,
        services: [any RPCService],
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        var methods: [String: RPCMethod] = [:]
        for service in services {
            for method in service.methods {
                precondition(methods[method.name] == nil, "method \(method.name) registered twice")
                methods[method.name] = method
            }
        }
        self.configuration = configuration
        self.group = group
        self.logger = logger
        let limits = configuration.limits
        self.shared = ServerConnectionHandler.Shared(
            methods: methods,
            authenticator: configuration.authenticator,
            hello: { principal in
                HelloResponse(
                    serverVersion: configuration.serverVersion,
                    serverID: configuration.serverID,
                    protocolVersion: LeaseholdMethod.protocolVersion,
                    maxFrameBytes: UInt32(limits.maxFrameBytes),
                    principal: principal.name,
                    roles: principal.roles.sorted()
                )
            },
            callRefusal: configuration.callRefusal,
            limits: limits,
            logger: logger,
            observer: configuration.observer
        )
    }

    /// Binds the listening socket and starts accepting connections.
    /// - Returns: The bound address (useful with port 0).
    /// - Throws: When the address cannot be bound.
    @discardableResult
    public func start() async throws -> SocketAddress {
        if let tls = self.configuration.tls {
            let context = try tls.makeContext()
            self.state.withLock { $0.tlsContext = context }
        }
        let limits = self.configuration.limits
        var bootstrap = ServerBootstrap(group: self.group)
        if let bytes = limits.socketSendBufferBytes {
            bootstrap = bootstrap.childChannelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(bytes))
        }
        let acceptBackoff = TimeAmount(limits.acceptBackoff)
        let channel =
            try await bootstrap
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Self.acceptBackoffHandler(pause: acceptBackoff))
                }
            }
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(
                .writeBufferWaterMark,
                value: .init(low: limits.writeBufferHighWatermark / 2, high: limits.writeBufferHighWatermark)
            )
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.setUpConnection(channel)
                }
            }
            .bind(host: self.configuration.host, port: self.configuration.port)
            .get()
        self.state.withLock { $0.serverChannel = channel }
        let address = channel.localAddress!
        if let tls = self.configuration.tls {
            self.logger.info(
                "serving TLS",
                metadata: [
                    "certificate": "\(tls.certificatePath)", "client-ca": "\(tls.clientCAPath ?? "none (no mTLS)")",
                ]
            )
        }
        self.logger.info("listening", metadata: ["address": "\(address)"])
        return address
    }

    /// Reads the TLS certificate, key and client CA files again: connections accepted from now on handshake with
    /// them, and open connections carry on undisturbed (`leasehold serve` does this on SIGHUP).
    /// - Throws: ``TLSFileError`` when a file cannot be used; the server then keeps what it had.
    public func reloadTLS() throws {
        guard let tls = self.configuration.tls else { return }
        let context = try tls.makeContext()
        self.state.withLock { $0.tlsContext = context }
        self.logger.info("TLS certificate reloaded", metadata: ["certificate": "\(tls.certificatePath)"])
    }

    /// Installs the handlers of one accepted connection (frame deadline, decoder, connection handler) on `channel`,
    /// as the listener does: for the fuzzer, which feeds a channel of its own arbitrary bytes.
    @_spi(Fuzzing)
    public func installConnectionHandlers(on channel: any Channel) throws {
        try self.setUpConnection(channel)
    }

    /// The listening channel, once started (for tests of its pipeline).
    var listenerChannel: (any Channel)? { self.state.withLock { $0.serverChannel } }

    /// The bound address, once started.
    public var localAddress: SocketAddress? { self.state.withLock { $0.serverChannel?.localAddress } }

    /// Stops accepting, ends every open call with `UNAVAILABLE`, and closes every connection.
    public func stop() async {
        let (serverChannel, connections) = self.state.withLock { state in
            state.stopped = true
            return (state.serverChannel, Array(state.connections.values))
        }
        try? await serverChannel?.close()
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(ServerConnectionHandler.Shutdown())
        }
        for connection in connections {
            let closed = connection.closeFuture
            // A peer that does not read must not hold shutdown up forever.
            let timeout = connection.eventLoop.scheduleTask(in: .seconds(2)) { connection.close(promise: nil) }
            try? await closed.get()
            timeout.cancel()
        }
        self.logger.info("stopped")
    }

    /// Closes every client connection abruptly (no goodbye frame), as a network cut would; the listener stays
    /// open. Clients see the connection drop and must reconnect. Meant for tests and fault drills.
    public func dropConnections() {
        let connections = self.state.withLock { Array($0.connections.values) }
        for connection in connections { connection.close(promise: nil) }
    }

    /// The number of open connections.
    public var connectionCount: Int { self.state.withLock { $0.connections.count } }

    /// What pauses accepting when `accept` fails (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`): NIO's
    /// `AcceptBackoffHandler`, which `bind(host:port:)` does not install by itself.
    static func acceptBackoffHandler(pause: TimeAmount) -> AcceptBackoffHandler {
        AcceptBackoffHandler(shouldForwardIOErrorCaught: false) { _ in pause }
    }

    private func setUpConnection(_ channel: any Channel) throws {
        let limits = self.configuration.limits
        var full = false
        var tlsContext: NIOSSLContext?
        let id: ConnectionID? = self.state.withLock { state in
            tlsContext = state.tlsContext
            guard !state.stopped else { return nil }
            guard state.connections.count < limits.maxConnections else {
                full = true
                return nil
            }
            let id = ConnectionID(rawValue: state.nextConnectionID)
            state.nextConnectionID += 1
            state.connections[id] = channel
            return id
        }
        guard let id else {
            if full {
                self.configuration.observer?.connectionRefused(.maxConnections)
                let message = "the server has \(limits.maxConnections) connections open, its limit (--max-connections)"
                // Over TLS the refusal is sent once the handshake is done, so that the client can read it.
                if let tlsContext {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext))
                }
                try channel.pipeline.syncOperations.addHandler(
                    RefuseConnectionHandler(status: Status(code: .resourceExhausted, message: message))
                )
            } else {
                channel.close(promise: nil)
            }
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = self.state.withLock { $0.connections.removeValue(forKey: id) }
        }
        let sync = channel.pipeline.syncOperations
        if let tlsContext {
            try sync.addHandler(NIOSSLServerHandler(context: tlsContext))
            try sync.addHandler(
                TLSHandshakeObserver(
                    verifiesClients: self.configuration.tls?.requiresClientCertificate ?? false,
                    logger: self.logger,
                    observer: self.configuration.observer
                )
            )
        }
        try sync.addHandler(
            FrameDeadlineHandler(timeout: TimeAmount(limits.frameTimeout), observer: self.configuration.observer)
        )
        try sync.addHandler(
            ByteToMessageHandler(
                FrameDecoder(
                    maximumFrameLength: self.configuration.limits.maxFrameBytes,
                    knownMethods: self.shared.methodNames
                )
            )
        )
        try sync.addHandler(ServerConnectionHandler(shared: self.shared, connectionID: id))
    }
}
