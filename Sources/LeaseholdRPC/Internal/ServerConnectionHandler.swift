import LeaseholdWire
import Logging
import NIOCore

/// Serves the calls of one connection: call_id multiplexing, `Hello`, CANCEL, deadlines, and backpressure.
///
/// Confined to the connection's event loop. A call runs inline, starts on the loop and completes through a callback,
/// or runs in its own task (``RPCMethod/Kind``); none of them waits on another, so a waiting `Acquire` never delays
/// a `KeepAlive` on the same connection. Results come back to the loop through one inbox, and the writes of one read
/// or one drain of the inbox share one flush.
final class ServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Never
    /// Length-prefixed frames, encoded here: all the frames of one read burst or one drain go out as one buffer.
    typealias OutboundOut = ByteBuffer

    /// Server-wide settings and the method table, shared by every connection.
    struct Shared: Sendable {
        var methods: [String: RPCMethod]
        var authenticator: Authenticator
        var hello: @Sendable (Principal) -> HelloResponse
        var helloRefusal: (@Sendable () -> Status?)? = nil
        var limits: RPCServer.Limits
        var logger: Logger
    }

    /// A request to end every call with `UNAVAILABLE` and close the connection, sent on shutdown.
    struct Shutdown {}

    private struct OpenCall {
        var task: Task<Void, Never>?
        /// A callback call's cancel action.
        var onCancel: (@Sendable () -> Void)?
        var deadline: CallDeadlines.Token?
        var sink: RPCStreamSink

        /// Stops the work of a call that ended before its handler did.
        func cancelWork() {
            self.task?.cancel()
            self.onCancel?()
        }
    }

    private let shared: Shared
    private let connectionID: ConnectionID
    private var logger: Logger
    private var principal: Principal?
    private var calls: [UInt64: OpenCall] = [:]
    private var context: ChannelHandlerContext?
    private var flushes = FlushCoalescer()
    private var deadlines: CallDeadlines?
    /// Frames encoded since the last flush. Reused: once the socket has taken a flushed buffer, the next frames
    /// are encoded into the same memory.
    private var outbox = ByteBuffer()
    /// Stream items in the outbox, refunded to their streams once the socket has taken it.
    private var unrefunded: [(RPCStreamSink, Int)] = []
    /// Where call tasks post their stream items, overflows and results, in order.
    private var inbox: LoopInbox<CallEvent>?
    private var readPending = false
    private var closing = false

    init(shared: Shared, connectionID: ConnectionID) {
        self.shared = shared
        self.connectionID = connectionID
        self.logger = shared.logger
        self.logger[metadataKey: "connection"] = "\(connectionID.rawValue)"
    }

    /// What a call reports to the event loop, from its task or its completion.
    enum CallEvent: Sendable {
        case item(callID: UInt64, payload: ByteBuffer, size: Int)
        case overflow(callID: UInt64, limit: Int)
        case completed(callID: UInt64, result: Result<ByteBuffer, any Error>)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.inbox = LoopInbox(loop: context.eventLoop) { events in
            let handler = bound.value
            handler.flushes.beginBatch()
            for event in events { handler.handle(event) }
            if handler.flushes.endBatch() { handler.flush() }
        }
        self.deadlines = CallDeadlines(
            loop: context.eventLoop,
            isOpen: { callID, token in bound.value.calls[callID]?.deadline == token },
            expire: { callID in
                bound.value.finish(callID: callID, status: Status(code: .deadlineExceeded, message: "the call ran past its deadline"))
            })
    }

    private func handle(_ event: CallEvent) {
        switch event {
        case .item(let callID, let payload, let size):
            self.writeStreamItem(callID: callID, payload: payload, size: size)
        case .overflow(let callID, let limit):
            self.finish(
                callID: callID,
                status: Status(
                    code: .resourceExhausted,
                    message: "the client is not reading: more than \(limit) bytes buffered for this stream"))
        case .completed(let callID, let result):
            self.complete(callID: callID, result: result)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.endAllCalls()
        self.context = nil
        // Their closures hold this handler: dropping them breaks the cycle, so a closed connection is freed (a
        // call still finishing keeps the inbox, and with it the handler, until it posts).
        self.inbox = nil
        self.deadlines = nil
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        guard !self.closing else { return }
        self.flushes.beginBatch()
        if frame.flags.contains(.cancel) {
            self.cancel(callID: frame.callID)
        } else if frame.callID == 0 {
            return  // connection-level frames from clients carry nothing we act on
        } else if self.calls[frame.callID] != nil {
            self.closeConnection(
                context: context, status: Status(code: .invalidArgument, message: "call_id \(frame.callID) is already open"))
        } else {
            self.open(frame, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.flushes.endBatch() { self.flush() }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.endAllCalls()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let error as FrameTooLarge:
            self.closeConnection(
                context: context,
                status: Status(
                    code: .frameTooLarge,
                    message: "frame of \(error.length) bytes exceeds max_frame_bytes \(error.maximum)"))
        case let error as MalformedMessage:
            self.closeConnection(
                context: context, status: Status(code: .invalidArgument, message: "frame does not decode as \(error.messageName)"))
        default:
            self.logger.debug("connection error", metadata: ["error": "\(error)"])
            self.endAllCalls()
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is Shutdown {
            for callID in Array(self.calls.keys) {
                self.finish(callID: callID, status: Status(code: .unavailable, message: "server is shutting down"))
            }
            self.closing = true
            self.write(Frame(callID: 0, status: Status(code: .unavailable, message: "server is shutting down")))
            self.flushAndClose(context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: - Backpressure

    func read(context: ChannelHandlerContext) {
        // A peer that does not read its responses stops being read from: its requests wait in the kernel.
        if context.channel.isWritable {
            context.read()
        } else {
            self.readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, self.readPending {
            self.readPending = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Calls

    private func open(_ frame: Frame, context: ChannelHandlerContext) {
        let callID = frame.callID
        if frame.method == LeaseholdMethod.hello {
            self.hello(frame)
            return
        }
        guard let principal = self.principal else {
            self.reply(callID: callID, status: Status(code: .unauthenticated, message: "call Hello first"))
            return
        }
        guard let method = self.shared.methods[frame.method] else {
            let message = frame.method.isEmpty ? "first frame of a call has no method" : "unknown method \(frame.method)"
            self.reply(callID: callID, status: Status(code: .unimplemented, message: message))
            return
        }
        guard self.calls.count < self.shared.limits.maxConcurrentCallsPerConnection else {
            self.reply(
                callID: callID,
                status: Status(
                    code: .resourceExhausted,
                    message: "more than \(self.shared.limits.maxConcurrentCallsPerConnection) calls open on one connection"))
            return
        }

        let rpcContext = RPCContext(
            principal: principal, connectionID: self.connectionID, callID: callID, method: frame.method,
            connectionLogger: self.logger)
        switch method.kind {
        case .inline(let handler):
            do {
                self.reply(callID: callID, payload: try handler(frame.payload, rpcContext), status: .ok)
            } catch {
                self.reply(callID: callID, status: Self.status(for: error))
            }
        case .callback(let handler):
            guard let inbox = self.inbox else { return }
            self.register(callID: callID, timeout: frame.timeout, sink: .none)
            let onCancel = handler(frame.payload, rpcContext) { result in
                inbox.post(.completed(callID: callID, result: result))
            }
            // Every ending of a call goes through the loop, so it is still open; should it not be, cancel at once.
            if let onCancel {
                if self.calls[callID] != nil { self.calls[callID]?.onCancel = onCancel } else { onCancel() }
            }
        case .task(let handler, let isStreaming):
            guard let inbox = self.inbox else { return }
            let sink: RPCStreamSink
            if isStreaming {
                let limit = self.shared.limits.maxBufferedBytesPerStream
                sink = RPCStreamSink(
                    limit: limit,
                    deliver: { payload, size in inbox.post(.item(callID: callID, payload: payload, size: size)) },
                    overflow: { inbox.post(.overflow(callID: callID, limit: limit)) })
            } else {
                sink = .none
            }
            self.register(callID: callID, timeout: frame.timeout, sink: sink)
            let payload = frame.payload
            self.calls[callID]?.task = Task {
                let result: Result<ByteBuffer, any Error>
                do {
                    result = .success(try await handler(payload, rpcContext, sink))
                } catch {
                    result = .failure(error)
                }
                inbox.post(.completed(callID: callID, result: result))
            }
        }
    }

    /// Records an open call and its deadline.
    private func register(callID: UInt64, timeout: Duration?, sink: RPCStreamSink) {
        var call = OpenCall(sink: sink)
        guard let timeout, let deadlines = self.deadlines else {
            self.calls[callID] = call
            return
        }
        let token = deadlines.makeToken()
        call.deadline = token
        self.calls[callID] = call
        deadlines.add(callID: callID, token: token, timeout: TimeAmount(timeout), openCalls: self.calls.count)
    }

    private func hello(_ frame: Frame) {
        let status: Status
        var payload = ByteBuffer()
        do {
            let request = try HelloRequest(decoding: frame.payload)
            if let refusal = self.shared.helloRefusal?() {
                status = refusal
            } else if request.protocolVersion != LeaseholdMethod.protocolVersion {
                status = Status(
                    code: .unsupportedProtocol,
                    message: "protocol version \(request.protocolVersion) is not supported; this server speaks \(LeaseholdMethod.protocolVersion)")
            } else if let principal = self.shared.authenticator.authenticate(token: request.token) {
                self.principal = principal
                self.logger[metadataKey: "principal"] = "\(principal.name)"
                payload = self.shared.hello(principal).encoded()
                status = .ok
            } else {
                status = Status(code: .unauthenticated, message: request.token.isEmpty ? "a token is required" : "unknown token")
            }
        } catch {
            status = Status(code: .invalidArgument, message: "Hello request does not decode")
        }
        self.reply(callID: frame.callID, payload: payload, status: status)
    }

    private func cancel(callID: UInt64) {
        self.finish(callID: callID, status: Status(code: .cancelled, message: "cancelled by the client"))
    }

    /// A call's handler returned.
    private func complete(callID: UInt64, result: Result<ByteBuffer, any Error>) {
        switch result {
        case .success(let payload):
            self.finish(callID: callID, payload: payload, status: .ok)
        case .failure(let error):
            self.finish(callID: callID, status: Self.status(for: error))
        }
    }

    /// Ends an open call with its last frame; does nothing if it has already ended.
    private func finish(callID: UInt64, payload: ByteBuffer = ByteBuffer(), status: Status) {
        guard let call = self.calls.removeValue(forKey: callID) else { return }
        if call.sink !== RPCStreamSink.none { call.sink.close() }
        if status.code != .ok { call.cancelWork() }
        self.reply(callID: callID, payload: payload, status: status)
    }

    /// Writes a stream item. Its bytes stay charged to the stream until the socket has taken them.
    private func writeStreamItem(callID: UInt64, payload: ByteBuffer, size: Int) {
        guard let call = self.calls[callID] else { return }
        self.unrefunded.append((call.sink, size))
        self.write(Frame(callID: callID, payload: payload))
    }

    private func reply(callID: UInt64, payload: ByteBuffer = ByteBuffer(), status: Status) {
        self.write(Frame(callID: callID, payload: payload, status: status))
    }

    private func write(_ frame: Frame) {
        guard self.context != nil else { return }
        frame.encodeWithLengthPrefix(into: &self.outbox)
        self.wrote()
    }

    /// Notes a write (see ``FlushCoalescer``).
    private func wrote() {
        guard self.flushes.noteWrite(), let context = self.context else { return }
        context.eventLoop.assumeIsolated().execute {
            if self.flushes.deferredFlushRuns() { self.flush() }
        }
    }

    private func flush() {
        guard let context = self.context else { return }
        self.flushNow(context, promise: nil)
    }

    /// Writes the outbox and flushes; `promise` completes when the socket has taken it (or failed to).
    private func flushNow(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        self.flushes.flushed()
        var promise = promise
        if !self.unrefunded.isEmpty {
            let items = self.unrefunded
            self.unrefunded.removeAll(keepingCapacity: true)
            let written = promise ?? context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenComplete { _ in Self.refund(items) }
            promise = written
        }
        context.write(Self.wrapOutboundOut(self.outbox), promise: promise)
        context.flush()
        // After the flush: if the socket took everything, NIO has let go of the storage and it is reused as is;
        // otherwise the next frame gets a new one. A buffer grown by a large burst is not kept.
        if self.outbox.capacity > Self.outboxCapacityKept {
            self.outbox = ByteBuffer()
        } else {
            self.outbox.clear()
        }
    }

    /// The largest outbox kept between flushes (a connection's idle memory).
    private static let outboxCapacityKept = 64 << 10

    /// Writes what is pending, then closes the connection.
    private func flushAndClose(_ context: ChannelHandlerContext) {
        let written = context.eventLoop.makePromise(of: Void.self)
        self.flushNow(context, promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private static func refund(_ items: [(RPCStreamSink, Int)]) {
        for (sink, size) in items { sink.refund(size) }
    }

    private func closeConnection(context: ChannelHandlerContext, status: Status) {
        guard !self.closing else { return }
        self.closing = true
        self.logger.debug("closing connection", metadata: ["status": "\(status.code)", "reason": "\(status.message)"])
        self.endAllCalls()
        self.write(Frame(callID: 0, status: status))
        self.flushAndClose(context)
    }

    private func endAllCalls() {
        let calls = self.calls
        self.calls.removeAll()
        self.deadlines?.removeAll()
        for call in calls.values {
            if call.sink !== RPCStreamSink.none { call.sink.close() }
            call.cancelWork()
        }
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
        default:
            return Status(code: .internal, message: "\(error)")
        }
    }
}

@available(*, unavailable)
extension ServerConnectionHandler: Sendable {}
