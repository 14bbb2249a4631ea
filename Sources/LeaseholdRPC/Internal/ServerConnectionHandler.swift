import LeaseholdWire
import Logging
import NIOCore
import Synchronization

/// Serves the calls of one connection: the I/O around ``CallStateMachine``, which holds the protocol logic.
///
/// Confined to the connection's event loop. It hands the state machine each event (a frame, a handler's result, a
/// deadline, a writability change) and carries out what it answers: start a method, write a frame, stop a call's
/// work, close the connection. A call runs inline, starts on the loop and completes through a callback, or runs in
/// its own task (``RPCMethod/Kind``); none of them waits on another, so a waiting `Acquire` never delays a
/// `KeepAlive` on the same connection. Results come back through an inbox that all the server's connections on
/// the loop share (``ServerLoopInboxes``), so that the answers of one group commit reach the loop as one task; the
/// writes of one read, or of one drain of the inbox on each connection it touched, share one flush.
final class ServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Never
    /// Length-prefixed frames, encoded here: all the frames of one read burst or one drain go out as one buffer.
    typealias OutboundOut = ByteBuffer

    /// Server-wide settings and the method table, shared by every connection.
    struct Shared: Sendable {
        let methods: [String: RPCMethod]
        /// Every method name served, `Hello` first: the frame decoder reads a call's method as one of these strings
        /// and numbers it by its place here (``Frame/knownMethodIndex``).
        let methodNames: [String]
        let authenticator: Authenticator
        let hello: @Sendable (Principal) -> HelloResponse
        let callRefusal: (@Sendable () -> Status?)?
        let limits: RPCServer.Limits
        let logger: Logger
        let observer: (any RPCCallObserver)?
        /// For each of ``methodNames``, what the observer is told for it: its index in the observer's
        /// ``RPCCallObserver/methodNames``, or ``otherMethod``.
        let observedMethods: [Int]
        /// What the observer is told for a method it does not name: the count of its names.
        let otherMethod: Int
        /// The inboxes of the event loops, one each, shared by the connections on a loop.
        let inboxes = ServerLoopInboxes()

        init(
            methods: [String: RPCMethod],
            authenticator: Authenticator,
            hello: @escaping @Sendable (Principal) -> HelloResponse,
            callRefusal: (@Sendable () -> Status?)? = nil,
            limits: RPCServer.Limits,
            logger: Logger,
            observer: (any RPCCallObserver)? = nil
        ) {
            self.methods = methods
            self.methodNames = [LeaseholdMethod.hello.name] + methods.keys.sorted()
            self.authenticator = authenticator
            self.hello = hello
            self.callRefusal = callRefusal
            self.limits = limits
            self.logger = logger
            self.observer = observer
            let observed = observer?.methodNames ?? []
            self.otherMethod = observed.count
            self.observedMethods = self.methodNames.map { observed.firstIndex(of: $0) ?? observed.count }
        }

        /// What the observer is told for the method of `frame`, a call's first frame.
        func observedMethod(_ frame: Frame) -> Int {
            guard let index = frame.knownMethodIndex, index < self.observedMethods.count else {
                return self.otherMethod
            }
            return self.observedMethods[index]
        }
    }

    /// A request to end every call with `UNAVAILABLE` and close the connection, sent on shutdown.
    struct Shutdown {}

    private let shared: Shared
    private let connectionID: ConnectionID
    private var logger: Logger
    private var calls: CallStateMachine
    private var context: ChannelHandlerContext?
    private var flushes = FlushCoalescer()
    private var deadlines: CallDeadlines?
    /// Frames encoded since the last flush. Reused: once the socket has taken a flushed buffer, the next frames
    /// are encoded into the same memory.
    private var outbox = ByteBuffer()
    /// Where a callback call's response message is encoded on the loop before its frame goes into the outbox.
    /// Reused: nothing holds it once the frame is written.
    private var responseScratch = ByteBuffer()
    /// Stream items in the outbox, refunded to their streams once the socket has taken it.
    private var unrefunded: [(RPCStreamSink, Int)] = []
    /// Where call tasks and completions post this connection's stream items, overflows and results, in order.
    private var endpoint: ConnectionEndpoint?
    /// Set while a drain of the loop's inbox has begun a flush batch here; the next handler the drain touched.
    private var drainBatch: (open: Bool, next: ServerConnectionHandler?) = (false, nil)
    /// Closes the connection if no `Hello` has succeeded by then; it checks the state machine when it fires.
    private var helloDeadline: Scheduled<Void>?

    init(shared: Shared, connectionID: ConnectionID) {
        self.shared = shared
        self.connectionID = connectionID
        self.logger = shared.logger
        self.logger[metadataKey: "connection"] = "\(connectionID.rawValue)"
        self.calls = CallStateMachine(
            methods: shared.methods,
            methodNames: shared.methodNames,
            authenticator: shared.authenticator,
            hello: shared.hello,
            callRefusal: shared.callRefusal,
            maxConcurrentCalls: shared.limits.maxConcurrentCallsPerConnection,
            maxClientNameBytes: shared.limits.maxClientNameBytes
        )
    }

    /// What a call reports to the event loop, from its task or its completion.
    enum CallEvent: Sendable {
        case item(callID: UInt64, payload: ByteBuffer, size: Int)
        case overflow(callID: UInt64, limit: Int)
        case completed(callID: UInt64, result: Result<ByteBuffer, any Error>)
        /// A callback call's response, as a message: encoded on the loop into a reused buffer, so that answering
        /// allocates no buffer of its own.
        case answered(callID: UInt64, response: any WireMessage)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.endpoint = ConnectionEndpoint(inbox: self.shared.inboxes.inbox(for: context.eventLoop), handler: bound)
        self.deadlines = CallDeadlines(
            loop: context.eventLoop,
            isOpen: { callID, token in bound.value.calls.isOpen(callID, token: token) },
            expire: { callID, token in
                let handler = bound.value
                if let ending = handler.calls.deadlinePassed(callID, token: token) { handler.write(ending) }
            }
        )
        self.startHelloDeadline(context: context)
    }

    /// Closes the connection unless a `Hello` has succeeded within ``RPCServer/Limits/helloTimeout``.
    private func startHelloDeadline(context: ChannelHandlerContext) {
        let timeout = self.shared.limits.helloTimeout
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.helloDeadline = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            let (handler, context) = bound.value
            handler.helloDeadline = nil
            let action = handler.calls.helloDeadlinePassed(timeout: timeout)
            if case .none = action {} else { handler.shared.observer?.connectionRefused(.helloTimeout) }
            handler.run(action, context: context)
        }
    }

    /// Runs on a loop with what its connections' calls posted since the last drain, in order: each event goes to its
    /// connection, and each connection it reached flushes once, after the last of them.
    static func drain(_ events: [RoutedCallEvent]) {
        // The handlers reached, as a list through themselves: a drain allocates nothing.
        var first: ServerConnectionHandler?
        for routed in events {
            let handler = routed.connection.handler.value
            if !handler.drainBatch.open {
                handler.drainBatch = (true, first)
                handler.flushes.beginBatch()
                first = handler
            }
            handler.handle(routed.event)
        }
        while let handler = first {
            first = handler.drainBatch.next
            handler.drainBatch = (false, nil)
            if handler.flushes.endBatch() { handler.flush() }
        }
    }

    private func handle(_ event: CallEvent) {
        switch event {
        case .item(let callID, let payload, let size):
            self.writeStreamItem(callID: callID, payload: payload, size: size)
        case .overflow(let callID, let limit):
            if let ending = self.calls.overflowed(callID, limit: limit) { self.write(ending) }
        case .completed(let callID, let result):
            if let ending = self.calls.completed(callID, result: result) { self.write(ending) }
        case .answered(let callID, let response):
            self.responseScratch.clear()
            response.encode(into: &self.responseScratch)
            if let ending = self.calls.completed(callID, result: .success(self.responseScratch)) { self.write(ending) }
            if self.responseScratch.capacity > Self.outboxCapacityKept { self.responseScratch = ByteBuffer() }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        Self.stopWork(self.calls.endAll())
        self.deadlines?.removeAll()
        self.context = nil
        // They hold this handler: dropping them breaks the cycle, so a closed connection is freed (a call still
        // finishing keeps the endpoint, and with it the handler, until it posts).
        self.endpoint = nil
        self.deadlines = nil
        self.helloDeadline?.cancel()
        self.helloDeadline = nil
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        self.flushes.beginBatch()
        let action = self.calls.receive(frame)
        // Hello and refused calls end with the one reply the state machine returns.
        if case .reply(let reply) = action { self.observe(frame, reply.status, since: nil) }
        self.run(action, context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.flushes.endBatch() { self.flush() }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        Self.stopWork(self.calls.endAll())
        self.deadlines?.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !(error is FrameTooLarge || error is MalformedMessage || error is InvalidTextField) {
            self.logger.debug("connection error", metadata: ["error": "\(error)"])
        }
        self.run(self.calls.decodingFailed(error), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeObserver.Completed {
            self.calls.tlsHandshakeCompleted(peerCommonName: handshake.peerCommonName)
            return
        }
        guard event is Shutdown else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let (endings, goodbye) = self.calls.shutdown()
        for ending in endings { self.write(ending) }
        self.write(Frame(callID: 0, status: goodbye))
        self.flushAndClose(context)
    }

    /// Carries out what the state machine said about a frame or a decoding failure.
    private func run(_ action: CallStateMachine.ReceiveAction, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .reply(let frame):
            self.write(frame)
        case .start(let method, let frame, let principal):
            self.start(method, frame: frame, principal: principal)
        case .end(let ending):
            self.write(ending)
        case .close(let status, let ended):
            self.logger.debug(
                "closing connection",
                metadata: ["status": "\(status.code)", "reason": "\(status.message)"]
            )
            Self.stopWork(ended)
            self.deadlines?.removeAll()
            self.write(Frame(callID: 0, status: status))
            self.flushAndClose(context)
        case .abort(let ended):
            Self.stopWork(ended)
            self.deadlines?.removeAll()
            context.close(promise: nil)
        }
    }

    // MARK: - Backpressure

    func read(context: ChannelHandlerContext) {
        if self.calls.readRequested(isWritable: context.channel.isWritable) { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if self.calls.writabilityChanged(isWritable: context.channel.isWritable) { context.read() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Calls

    /// Starts a call the state machine has let through, and registers it.
    private func start(_ method: RPCMethod, frame: Frame, principal: Principal) {
        let callID = frame.callID
        let started = NIODeadline.now()
        let rpcContext = RPCContext(
            principal: principal,
            connectionID: self.connectionID,
            callID: callID,
            method: frame.method,
            connectionLogger: self.logger
        )
        switch method.kind {
        case .inline(let handler):
            do {
                self.end(
                    Frame(callID: callID, payload: try handler(frame.payload, rpcContext), status: .ok),
                    frame,
                    started
                )
            } catch {
                self.end(Frame(callID: callID, status: CallStateMachine.status(for: error)), frame, started)
            }
        case .callback(let handler):
            self.startCallback(handler, frame: frame, context: rpcContext, started: started)
        case .inlineOrCallback(let inline, let handler):
            do {
                if let payload = try inline(frame.payload, rpcContext) {
                    self.end(Frame(callID: callID, payload: payload, status: .ok), frame, started)
                } else {
                    self.startCallback(handler, frame: frame, context: rpcContext, started: started)
                }
            } catch {
                self.end(Frame(callID: callID, status: CallStateMachine.status(for: error)), frame, started)
            }
        case .task(let handler, let isStreaming):
            guard let endpoint = self.endpoint else { return }
            let sink: RPCStreamSink
            if isStreaming {
                let limit = self.shared.limits.maxBufferedBytesPerStream
                sink = RPCStreamSink(
                    limit: limit,
                    deliver: { payload, size in endpoint.post(.item(callID: callID, payload: payload, size: size)) },
                    overflow: { endpoint.post(.overflow(callID: callID, limit: limit)) }
                )
            } else {
                sink = .none
            }
            self.register(frame, sink: sink, started: started)
            let payload = frame.payload
            self.calls.attach(
                task: Task {
                    let result: Result<ByteBuffer, any Error>
                    do {
                        result = .success(try await handler(payload, rpcContext, sink))
                    } catch {
                        result = .failure(error)
                    }
                    endpoint.post(.completed(callID: callID, result: result))
                },
                to: callID
            )
        }
    }

    /// Registers a callback call and starts it; its completion comes back through the inbox.
    private func startCallback(
        _ handler: RPCMethod.CallbackHandler,
        frame: Frame,
        context: RPCContext,
        started: NIODeadline
    ) {
        guard let endpoint = self.endpoint else { return }
        let callID = frame.callID
        self.register(frame, sink: .none, started: started)
        let onCancel = handler(frame.payload, context, CallResponder(connection: endpoint, callID: callID))
        // Every ending of a call goes through the loop, so it is still open; should it not be, cancel at once.
        if let onCancel, !self.calls.attach(onCancel: onCancel, to: callID) { onCancel() }
    }

    /// Records the open call of `frame`, its first, and its deadline.
    private func register(_ frame: Frame, sink: RPCStreamSink, started: NIODeadline) {
        let callID = frame.callID
        var call = CallStateMachine.OpenCall(sink: sink, method: self.shared.observedMethod(frame), started: started)
        guard let timeout = frame.timeout, let deadlines = self.deadlines else {
            self.calls.opened(callID, call)
            return
        }
        let token = deadlines.makeToken()
        call.deadline = token
        self.calls.opened(callID, call)
        deadlines.add(callID: callID, token: token, timeout: TimeAmount(timeout), openCalls: self.calls.openCalls)
    }

    /// Writes an ended call's last frame, after closing its stream and, unless it ended `OK`, stopping its work.
    private func write(_ ending: CallStateMachine.Ending) {
        if ending.status.code != .ok {
            Self.stopWork(ending.call)
        } else if ending.call.sink !== RPCStreamSink.none {
            ending.call.sink.close()
        }
        self.write(Frame(callID: ending.callID, payload: ending.payload, status: ending.status))
        self.observe(method: ending.call.method, ending.status, since: ending.call.started)
    }

    /// Writes the last frame of a call that ended where it started (inline).
    private func end(_ frame: Frame, _ request: Frame, _ started: NIODeadline) {
        self.write(frame)
        self.observe(request, frame.status, since: started)
    }

    /// Tells the observer, if any, that the call `request` opened ended with `status`; `since` nil means it ended as
    /// it arrived.
    private func observe(_ request: Frame, _ status: Status?, since started: NIODeadline?) {
        guard self.shared.observer != nil else { return }
        self.observe(method: self.shared.observedMethod(request), status, since: started)
    }

    /// Tells the observer, if any, that a call of `method` (as the observer numbers it) ended with `status`.
    private func observe(method: Int, _ status: Status?, since started: NIODeadline?) {
        guard let observer = self.shared.observer, let status else { return }
        let nanoseconds = started.map { (NIODeadline.now() - $0).nanoseconds } ?? 0
        observer.callEnded(method: method, code: status.code, duration: .nanoseconds(nanoseconds))
    }

    /// Stops the work of calls that ended before their handlers did.
    private static func stopWork(_ calls: [CallStateMachine.OpenCall]) {
        for call in calls { Self.stopWork(call) }
    }

    /// Stops the work of a call that ended before its handler did: closes its stream, cancels its task or callback.
    private static func stopWork(_ call: CallStateMachine.OpenCall) {
        if call.sink !== RPCStreamSink.none { call.sink.close() }
        call.task?.cancel()
        call.onCancel?()
    }

    /// Writes a stream item. Its bytes stay charged to the stream until the socket has taken them.
    private func writeStreamItem(callID: UInt64, payload: ByteBuffer, size: Int) {
        guard let sink = self.calls.streamItem(callID) else { return }
        self.unrefunded.append((sink, size))
        self.write(Frame(callID: callID, payload: payload))
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
}

@available(*, unavailable)
extension ServerConnectionHandler: Sendable {}

/// A call's event with the connection it belongs to, as the loop's shared inbox carries it.
struct RoutedCallEvent: Sendable {
    let connection: ConnectionEndpoint
    let event: ServerConnectionHandler.CallEvent
}

/// One server connection as its calls see it from any thread: the loop's inbox to post to, and the handler the
/// posts are for (reachable on the loop only).
final class ConnectionEndpoint: Sendable {
    let inbox: LoopInbox<RoutedCallEvent>
    let handler: NIOLoopBound<ServerConnectionHandler>

    init(inbox: LoopInbox<RoutedCallEvent>, handler: NIOLoopBound<ServerConnectionHandler>) {
        self.inbox = inbox
        self.handler = handler
    }

    /// Posts an event of one of the connection's calls to its loop, from any thread.
    func post(_ event: ServerConnectionHandler.CallEvent) {
        self.inbox.post(RoutedCallEvent(connection: self, event: event))
    }
}

/// The server's inboxes, one per event loop, each shared by the connections on that loop: a burst of answers
/// for many connections (a group commit's) costs the loop one task and one wake-up, not one per connection.
final class ServerLoopInboxes: Sendable {
    private let inboxes = Mutex<[ObjectIdentifier: LoopInbox<RoutedCallEvent>]>([:])

    /// The inbox of `loop`, made on first use and kept for the server's lifetime.
    func inbox(for loop: any EventLoop) -> LoopInbox<RoutedCallEvent> {
        self.inboxes.withLock { inboxes in
            let id = ObjectIdentifier(loop)
            if let inbox = inboxes[id] { return inbox }
            let inbox = LoopInbox<RoutedCallEvent>(loop: loop) { ServerConnectionHandler.drain($0) }
            inboxes[id] = inbox
            return inbox
        }
    }
}
