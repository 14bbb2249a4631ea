import LeaseholdWire
import NIOCore

/// The protocol logic of one server connection, with no I/O: the `Hello` gate, the call table, the per-connection
/// call limit, CANCEL, deadlines, stream overflow, shutdown and read backpressure.
///
/// ``ServerConnectionHandler`` feeds it events (a frame arrived, a handler finished, a deadline passed, the channel's
/// writability changed) and carries out the actions it returns (start a method, write a frame, cancel a call's work,
/// close the connection), as swift-nio's protocol handlers drive their state machines. It never touches a channel,
/// so it is unit-tested by feeding it events and reading its actions.
struct CallStateMachine {
    /// One open call, from its first frame until its last frame is written.
    struct OpenCall {
        /// The task of a `task` method.
        var task: Task<Void, Never>?
        /// A callback call's cancel action.
        var onCancel: (@Sendable () -> Void)?
        /// The registration of the call's deadline, if it has one.
        var deadline: CallDeadlines.Token?
        /// Where a streaming call's items are counted; ``RPCStreamSink/none`` for unary calls.
        var sink: RPCStreamSink
        /// The call's method, as the server's ``RPCCallObserver`` numbers it, and when its first frame was read.
        var method: Int
        var started: NIODeadline

        init(sink: RPCStreamSink = .none, method: Int = 0, started: NIODeadline = .uptimeNanoseconds(0)) {
            self.sink = sink
            self.method = method
            self.started = started
        }
    }

    /// A call that has ended: its last frame to write, and its work to stop.
    struct Ending {
        var callID: UInt64
        var payload: ByteBuffer
        var status: Status
        /// The ended call, whose stream the handler closes and whose work it cancels unless it ended `OK`.
        var call: OpenCall
    }

    // MARK: - Inbound

    /// What to do with a frame that arrived.
    enum ReceiveAction {
        /// Nothing: a stray frame, or the connection is closing.
        case none
        /// Write this frame (a `Hello` answer, or a call refused before it opened) and carry on.
        case reply(Frame)
        /// Start `method` for the call of `frame`, then register it with ``opened(_:_:)``.
        case start(method: RPCMethod, frame: Frame, principal: Principal)
        /// End a call (the client cancelled it).
        case end(Ending)
        /// Close the connection with a connection-level status, after stopping these calls' work.
        case close(Status, ended: [OpenCall])
        /// Close the connection at once, without a frame (the transport failed), after stopping these calls' work.
        case abort(ended: [OpenCall])
    }

    /// The connection's principal, once `Hello` has succeeded.
    private(set) var principal: Principal?
    /// The subject common name of the client's verified TLS certificate (mutual TLS), which the auth file may map to
    /// a principal (`cert_cn`).
    private(set) var peerCommonName: String?
    private var calls: [UInt64: OpenCall] = [:]
    private(set) var isClosing = false
    /// The transport stopped reading because the peer does not read its answers; read again once writable.
    private var readPending = false
    private let methods: [String: RPCMethod]
    /// `methods` by the place of their names in the frame decoder's `knownMethods`: a decoded call finds its method
    /// by ``Frame/knownMethodIndex``, which the decoder found while reading the name, instead of hashing it again.
    private let methodsByIndex: [RPCMethod?]
    private let authenticator: Authenticator
    private let hello: @Sendable (Principal) -> HelloResponse
    private let callRefusal: (@Sendable () -> Status?)?
    private let maxConcurrentCalls: Int
    private let maxClientNameBytes: Int

    /// - Parameters:
    ///   - methods: The methods served, by full name.
    ///   - methodNames: The frame decoder's `knownMethods`, in its order (``Frame/knownMethodIndex`` numbers them).
    ///   - authenticator: Maps a `Hello` token to a principal.
    ///   - hello: The `Hello` answer for a principal.
    ///   - callRefusal: Asked at every call, `Hello` included: a status to refuse it with (a standby's, or a node's
    ///     that is no longer sure of its lease), or `nil` to serve.
    ///   - maxConcurrentCalls: Calls open at once; more are refused with `RESOURCE_EXHAUSTED`.
    ///   - maxClientNameBytes: The longest `Hello.client_name`; longer is refused with `INVALID_ARGUMENT`.
    init(
        methods: [String: RPCMethod],
        methodNames: [String] = [],
        authenticator: Authenticator,
        hello: @escaping @Sendable (Principal) -> HelloResponse,
        callRefusal: (@Sendable () -> Status?)? = nil,
        maxConcurrentCalls: Int,
        maxClientNameBytes: Int = 256
    ) {
        self.methods = methods
        self.methodsByIndex = methodNames.map { methods[$0] }
        self.authenticator = authenticator
        self.hello = hello
        self.callRefusal = callRefusal
        self.maxConcurrentCalls = maxConcurrentCalls
        self.maxClientNameBytes = maxClientNameBytes
    }

    /// How many calls are open.
    var openCalls: Int { self.calls.count }

    /// A frame arrived.
    mutating func receive(_ frame: Frame) -> ReceiveAction {
        guard !self.isClosing else { return .none }
        let callID = frame.callID
        if frame.flags.contains(.cancel) {
            return self.end(callID, status: Status(code: .cancelled, message: "cancelled by the client")).map {
                .end($0)
            }
                ?? .none
        }
        if callID == 0 { return .none }  // connection-level frames from clients carry nothing to act on
        if self.calls[callID] != nil {
            return self.close(Status(code: .invalidArgument, message: "call_id \(callID) is already open"))
        }
        if frame.method == LeaseholdMethod.hello.name { return .reply(self.receiveHello(frame)) }
        // A node that has stepped down (or is no longer sure of its lease) answers nothing, not even on a
        // connection that said Hello before.
        if let refusal = self.callRefusal?() { return .reply(Frame(callID: callID, status: refusal)) }
        guard let principal = self.principal else {
            return .reply(Frame(callID: callID, status: Status(code: .unauthenticated, message: "call Hello first")))
        }
        guard let method = self.method(of: frame) else {
            let message =
                frame.method.isEmpty ? "first frame of a call has no method" : "unknown method \(frame.method)"
            return .reply(Frame(callID: callID, status: Status(code: .unimplemented, message: message)))
        }
        guard self.calls.count < self.maxConcurrentCalls else {
            return .reply(
                Frame(
                    callID: callID,
                    status: Status(
                        code: .resourceExhausted,
                        message: "more than \(self.maxConcurrentCalls) calls open on one connection"
                    )
                )
            )
        }
        return .start(method: method, frame: frame, principal: principal)
    }

    /// The method a call's first frame names: by its decoder's index when it has one, else by name.
    private func method(of frame: Frame) -> RPCMethod? {
        if let index = frame.knownMethodIndex, index < self.methodsByIndex.count,
            let method = self.methodsByIndex[index]
        {
            return method
        }
        return self.methods[frame.method]
    }

    /// Answers `Hello`: checks the protocol version and the token, and opens the gate on success.
    private mutating func receiveHello(_ frame: Frame) -> Frame {
        let request: HelloRequest
        do {
            request = try HelloRequest(decoding: frame.payload)
        } catch let error as InvalidTextField {
            return Frame(callID: frame.callID, status: Status(code: .invalidArgument, message: "\(error)"))
        } catch {
            return Frame(
                callID: frame.callID,
                status: Status(code: .invalidArgument, message: "Hello request does not decode")
            )
        }
        if let refusal = self.callRefusal?() { return Frame(callID: frame.callID, status: refusal) }
        guard request.protocolVersion == LeaseholdMethod.protocolVersion else {
            return Frame(
                callID: frame.callID,
                status: Status(
                    code: .unsupportedProtocol,
                    message:
                        "protocol version \(request.protocolVersion) is not supported; this server speaks \(LeaseholdMethod.protocolVersion)"
                )
            )
        }
        guard request.clientName.utf8.count <= self.maxClientNameBytes else {
            return Frame(
                callID: frame.callID,
                status: Status(
                    code: .invalidArgument,
                    message:
                        "client_name is \(request.clientName.utf8.count) bytes, more than the limit of \(self.maxClientNameBytes)"
                )
            )
        }
        guard
            let principal = self.authenticator.authenticate(
                token: request.token,
                certificateCommonName: self.peerCommonName
            )
        else {
            let message: String
            if !request.token.isEmpty {
                message = "unknown token"
            } else if let commonName = self.peerCommonName {
                message = "a token is required: the certificate's common name \(commonName) is not in the auth file"
            } else {
                message = "a token is required"
            }
            return Frame(callID: frame.callID, status: Status(code: .unauthenticated, message: message))
        }
        self.principal = principal
        return Frame(callID: frame.callID, payload: self.hello(principal).encoded(), status: .ok)
    }

    /// The TLS handshake completed; `peerCommonName` is the verified client certificate's subject common name, if
    /// the server verified one. It arrives before any frame.
    mutating func tlsHandshakeCompleted(peerCommonName: String?) {
        self.peerCommonName = peerCommonName
    }

    /// Registers a call that ``receive(_:)`` said to start: `call` carries its deadline token and stream sink.
    mutating func opened(_ callID: UInt64, _ call: OpenCall) {
        self.calls[callID] = call
    }

    /// Attaches a running call's cancel action.
    /// - Returns: `false` when the call has ended already: the caller runs `onCancel` itself.
    mutating func attach(onCancel: @escaping @Sendable () -> Void, to callID: UInt64) -> Bool {
        guard self.calls[callID] != nil else { return false }
        self.calls[callID]?.onCancel = onCancel
        return true
    }

    /// Attaches a running call's task (cancelled if the call ends first).
    mutating func attach(task: Task<Void, Never>, to callID: UInt64) {
        self.calls[callID]?.task = task
    }

    // MARK: - Call events

    /// A call's handler finished with `result`.
    /// - Returns: The ending to write, or `nil` if the call had ended already (cancelled, timed out).
    mutating func completed(_ callID: UInt64, result: Result<ByteBuffer, any Error>) -> Ending? {
        switch result {
        case .success(let payload): return self.end(callID, payload: payload, status: .ok)
        case .failure(let error): return self.end(callID, status: Self.status(for: error))
        }
    }

    /// A call's deadline, registered as `token`, has passed.
    mutating func deadlinePassed(_ callID: UInt64, token: CallDeadlines.Token) -> Ending? {
        guard self.isOpen(callID, token: token) else { return nil }
        return self.end(callID, status: Status(code: .deadlineExceeded, message: "the call ran past its deadline"))
    }

    /// Whether `callID` is open under the deadline registration `token`.
    func isOpen(_ callID: UInt64, token: CallDeadlines.Token) -> Bool {
        self.calls[callID]?.deadline == token
    }

    /// A streaming call's item is ready to write.
    /// - Returns: The stream's sink, to charge the item to, or `nil` if the call has ended (drop the item).
    func streamItem(_ callID: UInt64) -> RPCStreamSink? {
        self.calls[callID]?.sink
    }

    /// A streaming call's client stopped reading and its buffered items passed `limit` bytes.
    mutating func overflowed(_ callID: UInt64, limit: Int) -> Ending? {
        self.end(
            callID,
            status: Status(
                code: .resourceExhausted,
                message: "the client is not reading: more than \(limit) bytes buffered for this stream"
            )
        )
    }

    // MARK: - Connection events

    /// The frame decoder failed: the connection closes with a status that says why.
    mutating func decodingFailed(_ error: any Error) -> ReceiveAction {
        switch error {
        case let error as FrameTooLarge:
            return self.close(
                Status(
                    code: .frameTooLarge,
                    message: "frame of \(error.length) bytes exceeds max_frame_bytes \(error.maximum)"
                )
            )
        case let error as MalformedMessage:
            return self.close(Status(code: .invalidArgument, message: "frame does not decode as \(error.messageName)"))
        case let error as InvalidTextField:
            return self.close(Status(code: .invalidArgument, message: "\(error)"))
        default:
            self.isClosing = true
            return .abort(ended: self.endAll())
        }
    }

    /// The time a connection has to say a successful `Hello` is up: unless one did, the connection closes with
    /// `UNAUTHENTICATED` (a client that connects and says nothing must not hold a connection forever).
    /// - Parameter timeout: The time it had, for the message.
    mutating func helloDeadlinePassed(timeout: Duration) -> ReceiveAction {
        guard self.principal == nil else { return .none }
        return self.close(Status(code: .unauthenticated, message: "no successful Hello within \(timeout)"))
    }

    /// The server is shutting down: every call ends with `UNAVAILABLE`, then the connection says so and closes.
    /// - Returns: The endings to write, then the connection-level status.
    mutating func shutdown() -> (endings: [Ending], goodbye: Status) {
        let unavailable = Status(code: .unavailable, message: "server is shutting down")
        let endings = Array(self.calls.keys).compactMap { self.end($0, status: unavailable) }
        self.isClosing = true
        return (endings, unavailable)
    }

    /// The channel is gone: every call ends without a frame.
    /// - Returns: The calls whose work to stop.
    mutating func endAll() -> [OpenCall] {
        defer { self.calls.removeAll() }
        return Array(self.calls.values)
    }

    // MARK: - Backpressure

    /// The transport asks to read. A peer that does not read its answers is not read from either: its requests
    /// wait in the kernel.
    /// - Returns: Whether to read now.
    mutating func readRequested(isWritable: Bool) -> Bool {
        if isWritable { return true }
        self.readPending = true
        return false
    }

    /// The channel's writability changed.
    /// - Returns: Whether to read now (a read was held back and the peer has caught up).
    mutating func writabilityChanged(isWritable: Bool) -> Bool {
        guard isWritable, self.readPending else { return false }
        self.readPending = false
        return true
    }

    // MARK: - Internal

    private mutating func end(_ callID: UInt64, payload: ByteBuffer = ByteBuffer(), status: Status) -> Ending? {
        guard let call = self.calls.removeValue(forKey: callID) else { return nil }
        return Ending(callID: callID, payload: payload, status: status, call: call)
    }

    private mutating func close(_ status: Status) -> ReceiveAction {
        guard !self.isClosing else { return .none }
        self.isClosing = true
        return .close(status, ended: self.endAll())
    }

    /// The status a call ends with when its handler throws `error`.
    static func status(for error: any Error) -> Status {
        switch error {
        case let error as LeaseholdError:
            return error.status
        case is CancellationError:
            return Status(code: .cancelled, message: "cancelled")
        case let error as MalformedMessage:
            return Status(code: .invalidArgument, message: "request does not decode as \(error.messageName)")
        case let error as InvalidTextField:
            return Status(code: .invalidArgument, message: "\(error)")
        default:
            return Status(code: .internal, message: "\(error)")
        }
    }
}
