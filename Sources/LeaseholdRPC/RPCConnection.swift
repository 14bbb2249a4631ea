import LeaseholdCore
public import LeaseholdWire
import Logging
public import NIOCore
public import NIOPosix
import NIOSSL
import Synchronization

/// A client connection to any server on the RPC layer: many concurrent calls over one TCP connection.
///
/// ```swift
/// let connection = try await RPCConnection.connect(host: "127.0.0.1", port: 7420, hello: HelloRequest(
///     protocolVersion: 1, clientName: "worker-7", token: ""))
/// let info = try await connection.unary(LeaseholdMethod.describe, DescribeRequest(key: "jobs/1"))
/// ```
public final class RPCConnection: Sendable {
    /// The server's answer to `Hello`.
    public let hello: HelloResponse
    private let channel: any Channel
    private let handler: NIOLoopBound<ClientConnectionHandler>
    /// Call starts and cancels, in order, batched into one task on the loop per burst.
    private let inbox: LoopInbox<ClientConnectionHandler.Command>
    private let nextCallID = Atomic<UInt64>(1)

    private init(channel: any Channel, handler: NIOLoopBound<ClientConnectionHandler>, hello: HelloResponse) {
        self.channel = channel
        self.handler = handler
        self.hello = hello
        self.inbox = LoopInbox(loop: channel.eventLoop) { commands in handler.value.run(commands) }
    }

    /// Connects and says `Hello`.
    /// - Parameters:
    ///   - host: The server's host name or address.
    ///   - port: The server's port.
    ///   - hello: The `Hello` to send, with the bearer token if the server needs one.
    ///   - connectTimeout: How long to wait for TCP and for the `Hello` answer.
    ///   - maxFrameBytes: The largest frame accepted from the server.
    ///   - tls: TLS settings for a server that serves TLS; nil for plaintext.
    ///   - group: The event loops for I/O.
    /// - Returns: A connection whose `Hello` succeeded.
    /// - Throws: ``LeaseholdError`` with `UNAVAILABLE` when the server cannot be reached or the TLS handshake fails,
    ///   `INVALID_ARGUMENT` when a TLS file cannot be used, or the `Hello` error (`UNAUTHENTICATED`,
    ///   `UNSUPPORTED_PROTOCOL`).
    public static func connect(
        host: String,
        port: Int,
        hello: HelloRequest,
        connectTimeout: Duration = .seconds(5),
        maxFrameBytes: Int = 16 << 20,
        tls: ClientTLSConfiguration? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RPCConnection {
        var tlsContext: NIOSSLContext?
        if let tls {
            do {
                tlsContext = try tls.makeContext()
            } catch {
                throw LeaseholdError(code: .invalidArgument, message: "\(error)", cause: error)
            }
        }
        // SNI and certificate checks use the host name; an address is checked against the certificate's IP names.
        let serverHostname = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        let failure = ClientConnectionHandler.FirstFailure()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(TimeAmount(connectTimeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        if let tlsContext {
                            try sync.addHandler(
                                NIOSSLClientHandler(context: tlsContext, serverHostname: serverHostname)
                            )
                        }
                        try sync.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameLength: maxFrameBytes)))
                        try sync.addHandler(MessageToByteHandler(FrameEncoder()))
                        try sync.addHandler(ClientConnectionHandler(usesTLS: tlsContext != nil, failure: failure))
                    }
                }
                .connect(host: host, port: port)
                .get()
        } catch {
            throw LeaseholdError(
                code: .unavailable,
                message: "cannot connect to \(host):\(port): \(error)",
                cause: error
            )
        }
        let handler: NIOLoopBound<ClientConnectionHandler>
        do {
            handler = try await channel.eventLoop.submit {
                NIOLoopBound(
                    try channel.pipeline.syncOperations.handler(type: ClientConnectionHandler.self),
                    eventLoop: channel.eventLoop
                )
            }.get()
        } catch {
            // The connection ended before it could be used (a TLS handshake that failed at once): say why.
            throw failure.error
                ?? LeaseholdError(code: .unavailable, message: "\(host):\(port) closed the connection at once")
        }
        let connection = RPCConnection(
            channel: channel,
            handler: handler,
            hello: HelloResponse(
                serverVersion: "",
                serverID: "",
                protocolVersion: 0,
                maxFrameBytes: 0,
                principal: "",
                roles: []
            )
        )
        do {
            let response = try await connection.unary(LeaseholdMethod.hello, hello, timeout: connectTimeout)
            return RPCConnection(channel: channel, handler: handler, hello: response)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Makes a unary call.
    /// - Parameters:
    ///   - method: The method, with its request and response types.
    ///   - request: The request.
    ///   - timeout: The call's deadline, sent to the server and also enforced here, so that a server that stops
    ///     answering cannot hold the caller.
    /// - Returns: The decoded response.
    /// - Throws: ``LeaseholdError`` with the server's status, `DEADLINE_EXCEEDED`, or `UNAVAILABLE` when the
    ///   connection ends; `CancellationError` when the calling task is cancelled (the server is sent CANCEL).
    public func unary<Request: WireMessage, Response: WireMessage>(
        _ method: MethodDescriptor<Request, Response>,
        _ request: Request,
        timeout: Duration? = nil
    ) async throws -> Response {
        let frame = self.newFrame(method: method.name, payload: request.encoded(), timeout: timeout)
        let callID = frame.callID
        let inbox = self.inbox
        // A cancellation can arrive before the call is registered on the loop; the flag makes `start` see it.
        let cancelled = ClientConnectionHandler.CancelFlag()
        let payload = try await withTaskCancellationHandler {
            try await self.startUnary(frame, cancelled: cancelled).get()
        } onCancel: {
            cancelled.set()
            inbox.post(.cancel(callID: callID, error: CancellationError()))
        }
        return try Response(decoding: payload)
    }

    /// Makes a unary call whose answer completes a future on the connection's event loop.
    ///
    /// For code that already runs on the loop as callbacks (a load generator, a proxy): a call started from the
    /// loop and chained from its answer costs no task and no thread hop. Callbacks added with `assumeIsolated()`
    /// run in the same loop tick as the answer's read, so a call they start shares that read's flush.
    /// - Parameters:
    ///   - method: The method, with its request and response types.
    ///   - request: The request.
    ///   - timeout: The call's deadline, sent to the server and also enforced here.
    /// - Returns: The decoded response, or the errors of ``unary(_:_:timeout:)`` (there is no cancellation).
    @inlinable
    public func unaryFuture<Request: WireMessage, Response: WireMessage>(
        _ method: MethodDescriptor<Request, Response>,
        _ request: Request,
        timeout: Duration? = nil
    ) -> EventLoopFuture<Response> {
        // Inlinable for the reason `serverStream` is: decoding specialized in the caller's module.
        self.startUnary(method: method.name, payload: request.encoded(), timeout: timeout).flatMapThrowing {
            try Response(decoding: $0)
        }
    }

    /// Starts a unary call with no cancellation, for ``unaryFuture(_:_:timeout:)``.
    @usableFromInline
    func startUnary(method: String, payload: ByteBuffer, timeout: Duration?) -> EventLoopFuture<ByteBuffer> {
        self.startUnary(self.newFrame(method: method, payload: payload, timeout: timeout), cancelled: nil)
    }

    /// Registers a unary call on the loop (directly when already there) and sends it; its deadline is the frame's.
    private func startUnary(
        _ frame: Frame,
        cancelled: ClientConnectionHandler.CancelFlag?
    ) -> EventLoopFuture<ByteBuffer> {
        let promise = self.channel.eventLoop.makePromise(of: ByteBuffer.self)
        let start = ClientConnectionHandler.Command.startUnary(frame, promise, cancelled: cancelled)
        if self.channel.eventLoop.inEventLoop {
            // Already on the connection's thread (a task or a callback on the event loops): no hop through the inbox.
            self.handler.value.run(start)
        } else {
            self.inbox.post(start)
        }
        return promise.futureResult
    }

    /// Opens a server stream.
    /// - Parameters:
    ///   - method: The method, with its request and response types.
    ///   - request: The request.
    /// - Returns: The stream's items; it finishes when the server ends the call with `OK` and throws
    ///   ``LeaseholdError`` otherwise. Dropping the iterator cancels the call on the server.
    @inlinable
    public func serverStream<Request: WireMessage, Response: WireMessage>(
        _ method: StreamingMethodDescriptor<Request, Response>,
        _ request: Request
    ) -> AsyncThrowingStream<Response, any Error> {
        let (responses, continuation) = AsyncThrowingStream.makeStream(of: Response.self)
        let cancel = self.serverStream(
            method,
            request,
            onItem: { continuation.yield($0) },
            onEnd: { continuation.finish(throwing: $0) }
        )
        continuation.onTermination = { _ in cancel() }
        return responses
    }

    /// Opens a server stream whose items are handed to `onItem` on the connection's event loop, as they are read.
    ///
    /// For code that runs on the loop as callbacks and wants no task resume per item (the load generator's
    /// thousand watchers); ``serverStream(_:_:)`` is this with an `AsyncThrowingStream` in between.
    /// - Parameters:
    ///   - method: The method, with its request and response types.
    ///   - request: The request.
    ///   - onItem: Called with each item, in order, on the event loop; keep it short.
    ///   - onEnd: Called once when the stream ends: `nil` when the server ends the call with `OK`, the error
    ///     otherwise (also after the returned cancel).
    /// - Returns: What cancels the call.
    @inlinable
    public func serverStream<Request: WireMessage, Response: WireMessage>(
        _ method: StreamingMethodDescriptor<Request, Response>,
        _ request: Request,
        onItem: @escaping @Sendable (Response) -> Void,
        onEnd: @escaping @Sendable ((any Error)?) -> Void
    ) -> @Sendable () -> Void {
        // Inlinable so that decoding is specialized in the caller's module: each item would otherwise pay runtime
        // generic metadata lookups. The rest is `startStream`, not generic.
        self.startStream(
            method: method.name,
            payload: request.encoded(),
            item: { payload in
                guard let response = try? Response(decoding: payload) else { return false }
                onItem(response)
                return true
            },
            end: onEnd
        )
    }

    /// Starts a server stream whose items go to `item` and whose end goes to `end`.
    /// - Returns: What cancels the call (for the stream's termination).
    @usableFromInline
    func startStream(
        method: String,
        payload: ByteBuffer,
        item: @escaping @Sendable (ByteBuffer) -> Bool,
        end: @escaping @Sendable ((any Error)?) -> Void
    ) -> @Sendable () -> Void {
        let frame = self.newFrame(method: method, payload: payload)
        let callID = frame.callID
        let inbox = self.inbox
        inbox.post(.startStream(frame, .init(item: item, end: end)))
        return { inbox.post(.cancel(callID: callID, error: CancellationError())) }
    }

    /// The first frame of a new call, under this connection's next call_id.
    private func newFrame(method: String, payload: ByteBuffer, timeout: Duration? = nil) -> Frame {
        let callID = self.nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
        return Frame(callID: callID, method: method, payload: payload, timeout: timeout)
    }

    /// The event loop that serves this connection: a task that runs there (with the event loops as Swift's global
    /// executor) makes its calls without a thread hop.
    public var eventLoop: any EventLoop { self.channel.eventLoop }

    /// Whether the TCP connection is still open.
    public var isActive: Bool { self.channel.isActive }

    /// Completes when the connection closes, for whatever reason.
    public var closeFuture: EventLoopFuture<Void> { self.channel.closeFuture }

    /// Closes the connection; open calls fail with `UNAVAILABLE`.
    public func close() async {
        try? await self.channel.close()
    }
}

extension TimeAmount {
    /// A NIO time amount from a Swift duration, rounded down to whole nanoseconds.
    init(_ duration: Duration) {
        self = .nanoseconds(duration.wholeNanoseconds)
    }
}

/// The cause of a `DEADLINE_EXCEEDED` raised by the client itself: the server did not answer in time at all, which
/// says nothing about the request (unlike a server's own `DEADLINE_EXCEEDED`, such as a lock wait that ran out).
public struct NoAnswerWithinDeadline: Error, Hashable, Sendable {
    /// The call's deadline.
    public var timeout: Duration
}
