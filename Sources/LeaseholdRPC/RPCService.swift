public import LeaseholdWire
public import Logging
public import NIOCore

/// A set of methods served on the RPC layer, as a grpc-swift service runs on any transport.
///
/// ```swift
/// struct Echo: RPCService {
///     var methods: [RPCMethod] {
///         [.unary(MethodDescriptor<HelloRequest, HelloResponse>("demo.Echo/Say")) { request, context in
///             HelloResponse(serverVersion: request.clientName, serverID: "", protocolVersion: 1,
///                           maxFrameBytes: 0, principal: context.principal.name, roles: [])
///         }]
///     }
/// }
/// ```
public protocol RPCService: Sendable {
    /// The methods this service answers.
    var methods: [RPCMethod] { get }
}

/// One method: its full name and a type-erased handler.
public struct RPCMethod: Sendable {
    /// Runs a call in a task: decodes the request, does the work, and returns the final payload (streams also send
    /// items).
    typealias Handler = @Sendable (ByteBuffer, RPCContext, RPCStreamSink) async throws -> ByteBuffer
    /// Starts a call on the event loop and returns at once; the answer comes later through the responder, from
    /// any thread. Returns what to run if the call ends first (cancelled, past its deadline).
    typealias CallbackHandler = @Sendable (ByteBuffer, RPCContext, CallResponder) -> (@Sendable () -> Void)?

    enum Kind: Sendable {
        /// Runs in its own task.
        case task(Handler, isStreaming: Bool)
        /// Runs on the event loop and answers before returning.
        case inline(@Sendable (ByteBuffer, RPCContext) throws -> ByteBuffer)
        /// Starts on the event loop and answers through a completion.
        case callback(CallbackHandler)
        /// Answers on the event loop if it can (non-nil), else goes on as `callback`.
        case inlineOrCallback(@Sendable (ByteBuffer, RPCContext) throws -> ByteBuffer?, CallbackHandler)
    }

    /// The full method name, such as `leasehold.v1.Leasehold/Acquire`.
    public let name: String
    let kind: Kind

    /// A unary method whose handler never suspends or blocks (it may take a short lock): it runs on the
    /// connection's event loop, which saves the task and two thread hops of an `async` handler. Use it only for
    /// work measured in microseconds.
    /// - Parameters:
    ///   - method: The method, with its request and response types.
    ///   - handler: Answers a request; throw ``LeaseholdError`` to end the call with its status.
    public static func unaryInline<Request: WireMessage, Response: WireMessage>(
        _ method: MethodDescriptor<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCContext) throws -> Response
    ) -> RPCMethod {
        RPCMethod(
            name: method.name,
            kind: .inline { payload, context in
                try handler(Request(decoding: payload), context).encoded()
            }
        )
    }

    /// A unary method whose answer comes from elsewhere, such as the completion of a commit: the handler starts
    /// the work on the connection's event loop without blocking, returns at once, and calls `respond` exactly once,
    /// from any thread. No task is created, so a call costs no more than the work it waits for.
    ///
    /// The handler may return a cancel action: it runs (on the event loop) if the call ends before `respond`, when
    /// the client cancels, the deadline passes or the connection closes. A later `respond` is then ignored.
    /// - Parameters:
    ///   - method: The method, with its request and response types.
    ///   - handler: Starts the work; `respond` takes the answer, or ``LeaseholdError`` to end the call with its
    ///     status.
    public static func unaryCallback<Request: WireMessage, Response: WireMessage>(
        _ method: MethodDescriptor<Request, Response>,
        _ handler:
            @escaping @Sendable (
                Request, RPCContext, _ respond: @escaping @Sendable (Result<Response, any Error>) -> Void
            ) -> (@Sendable () -> Void)?
    ) -> RPCMethod {
        Self.unaryCallback(method, answer: { (response: Response) in response }, handler)
    }

    /// ``unaryCallback(_:_:)`` for a handler whose work answers with something other than the response message:
    /// `answer` turns it into the response, in the one closure the RPC layer makes per call, so that the handler
    /// can hand `respond` to the work as its completion without a closure of its own to convert the answer.
    /// - Parameters:
    ///   - method: The method, with its request and response types.
    ///   - answer: Turns the work's answer into the response (called on the thread that answers).
    ///   - handler: Starts the work; `respond` takes the answer, or ``LeaseholdError`` to end the call with its
    ///     status.
    public static func unaryCallback<Request: WireMessage, Response: WireMessage, Answer: Sendable>(
        _ method: MethodDescriptor<Request, Response>,
        answer: @escaping @Sendable (Answer) -> Response,
        _ handler:
            @escaping @Sendable (
                Request, RPCContext, _ respond: @escaping @Sendable (Result<Answer, any Error>) -> Void
            ) -> (@Sendable () -> Void)?
    ) -> RPCMethod {
        RPCMethod(
            name: method.name,
            kind: .callback { payload, context, responder in
                let request: Request
                do {
                    request = try Request(decoding: payload)
                } catch {
                    responder.respond(.failure(error))
                    return nil
                }
                return handler(request, context) { result in
                    switch result {
                    case .success(let value): responder.answer(answer(value))
                    case .failure(let error): responder.respond(.failure(error))
                    }
                }
            }
        )
    }

    /// A unary method that usually answers at once, on the event loop, but sometimes must wait (for the commit in
    /// flight, say): `now` answers, or returns `nil` to hand the call to `later`, which answers through `respond`
    /// as ``unaryCallback(_:_:)`` does. The common case then costs what ``unaryInline(_:_:)`` costs.
    /// - Parameters:
    ///   - method: The method, with its request and response types.
    ///   - now: Answers on the event loop without blocking, or returns `nil`; throw ``LeaseholdError`` to end the
    ///     call with its status.
    ///   - later: Starts the work when `now` could not answer, as in ``unaryCallback(_:_:)``.
    public static func unary<Request: WireMessage, Response: WireMessage>(
        _ method: MethodDescriptor<Request, Response>,
        now: @escaping @Sendable (Request, RPCContext) throws -> Response?,
        later:
            @escaping @Sendable (
                Request, RPCContext, _ respond: @escaping @Sendable (Result<Response, any Error>) -> Void
            ) -> (@Sendable () -> Void)?
    ) -> RPCMethod {
        let callback = Self.unaryCallback(method, later)
        guard case .callback(let deferred) = callback.kind else {
            preconditionFailure("unaryCallback makes a callback")
        }
        return RPCMethod(
            name: method.name,
            kind: .inlineOrCallback(
                { payload, context in
                    try now(Request(decoding: payload), context)?.encoded()
                },
                deferred
            )
        )
    }

    /// A unary method: one request, one response.
    /// - Parameters:
    ///   - method: The method, with its request and response types.
    ///   - handler: Answers a request; throw ``LeaseholdError`` to end the call with its status.
    public static func unary<Request: WireMessage, Response: WireMessage>(
        _ method: MethodDescriptor<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCContext) async throws -> Response
    ) -> RPCMethod {
        RPCMethod(
            name: method.name,
            kind: .task(
                { payload, context, _ in
                    let request = try Request(decoding: payload)
                    return try await handler(request, context).encoded()
                },
                isStreaming: false
            )
        )
    }

    /// A server-streaming method: one request, any number of responses, then a status.
    /// - Parameters:
    ///   - method: The method, with its request and response types.
    ///   - handler: Sends items through the writer and returns when the stream is done; throw to end it with a
    ///     status other than `OK`.
    public static func serverStreaming<Request: WireMessage, Response: WireMessage>(
        _ method: StreamingMethodDescriptor<Request, Response>,
        _ handler: @escaping @Sendable (Request, RPCContext, RPCStreamWriter<Response>) async throws -> Void
    ) -> RPCMethod {
        RPCMethod(
            name: method.name,
            kind: .task(
                { payload, context, sink in
                    let request = try Request(decoding: payload)
                    try await handler(request, context, RPCStreamWriter(sink: sink))
                    return ByteBuffer()
                },
                isStreaming: true
            )
        )
    }
}

/// Where the answer of a call started through a completion goes: the connection, with the call's id. It is two
/// words, captured by value in the one closure a call's handler gets, so the RPC layer adds no allocation of its own
/// to a call.
struct CallResponder: Sendable {
    let connection: ConnectionEndpoint
    let callID: UInt64

    /// Posts the call's result to its connection's loop.
    func respond(_ result: Result<ByteBuffer, any Error>) {
        self.connection.post(.completed(callID: self.callID, result: result))
    }

    /// Posts the call's response to its connection's loop, which encodes it (into a buffer it reuses).
    func answer(_ response: some WireMessage) {
        self.connection.post(.answered(callID: self.callID, response: response))
    }
}

/// What a handler knows about its call and connection.
public struct RPCContext: Sendable {
    /// The authenticated principal of the connection.
    public var principal: Principal
    /// Identifies the connection, for state bound to it (such as which sessions it may act for).
    public var connectionID: ConnectionID
    /// The call's id on its connection.
    public var callID: UInt64
    /// The full method name.
    public var method: String
    let connectionLogger: Logger

    /// A logger with the connection, call and method in its metadata (built on first use: most calls never log).
    public var logger: Logger {
        var logger = self.connectionLogger
        logger[metadataKey: "call"] = "\(self.callID)"
        logger[metadataKey: "method"] = "\(self.method)"
        return logger
    }
}

/// Identifies one client connection for the server's lifetime.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "conn-\(self.rawValue)" }
}

/// Sends the items of a server stream.
///
/// Sending never waits for the client: when the connection's buffer for this stream passes the server's bound
/// (a client that does not read), the call is ended with `RESOURCE_EXHAUSTED` and further sends throw.
public struct RPCStreamWriter<Response: WireMessage>: Sendable {
    let sink: RPCStreamSink

    /// Sends one item.
    /// - Throws: `CancellationError` once the call has ended (cancelled, timed out, or ended for a slow reader).
    public func send(_ response: Response) throws {
        try self.sink.send(response.encoded())
    }

    /// Sends an item that is already encoded, so that one encoding can be shared by many streams.
    /// - Throws: `CancellationError` once the call has ended.
    public func send(encoded payload: ByteBuffer) throws {
        try self.sink.send(payload)
    }

    /// Whether the call is still open.
    public var isOpen: Bool { !self.sink.isClosed }
}
