import LeaseholdWire
import NIOCore
import NIOSSL
import Synchronization

/// The client's end of a connection: matches server frames to open calls by call_id.
///
/// Confined to the connection's event loop; ``RPCConnection`` reaches it through `NIOLoopBound`.
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    enum Pending {
        case unary(EventLoopPromise<ByteBuffer>, deadline: CallDeadlines.Token?, timeout: Duration?)
        case stream(StreamReceiver)
    }

    /// Where a stream's items and its end go.
    struct StreamReceiver: Sendable {
        /// Takes one item; returns `false` if the item does not decode, which ends the call.
        var item: @Sendable (ByteBuffer) -> Bool
        /// Ends the stream: `nil` for `OK`.
        var end: @Sendable ((any Error)?) -> Void
    }

    /// What ``RPCConnection`` asks of the loop.
    enum Command: Sendable {
        /// A unary call; its deadline is the frame's `timeout`.
        case startUnary(Frame, EventLoopPromise<ByteBuffer>, cancelled: CancelFlag?)
        case startStream(Frame, StreamReceiver)
        case cancel(callID: UInt64, error: any Error)
    }

    /// Set by a task's cancellation handler, possibly before its call reached the loop.
    final class CancelFlag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { self.value.store(true, ordering: .releasing) }
        var isSet: Bool { self.value.load(ordering: .acquiring) }
    }

    private var pending: [UInt64: Pending] = [:]
    private var context: ChannelHandlerContext?
    private var flushes = FlushCoalescer()
    private var deadlines: CallDeadlines?
    /// Set once the connection has ended; later calls fail with it.
    private var endedWith: LeaseholdError?
    /// Whether the connection runs over TLS, to explain a plaintext connection's failure against a TLS server.
    private let usesTLS: Bool
    /// Where the first error is kept for whoever set up the connection, should it end before it is used.
    private let failure: FirstFailure?

    /// The error that ended a connection, readable from any thread.
    final class FirstFailure: Sendable {
        private let value = Mutex<LeaseholdError?>(nil)
        var error: LeaseholdError? { self.value.withLock { $0 } }
        func record(_ error: LeaseholdError) { self.value.withLock { $0 = $0 ?? error } }
    }

    init(usesTLS: Bool = false, failure: FirstFailure? = nil) {
        self.usesTLS = usesTLS
        self.failure = failure
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.deadlines = CallDeadlines(
            loop: context.eventLoop,
            isOpen: { callID, token in
                guard case .unary(_, let deadline, _) = bound.value.pending[callID] else { return false }
                return deadline == token
            },
            expire: { callID, _ in bound.value.expire(callID: callID) }
        )
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.deadlines?.removeAll()
        self.deadlines = nil  // its closures hold this handler
        self.context = nil
    }

    /// Runs commands from ``RPCConnection`` with one flush for all of them.
    func run(_ commands: [Command]) {
        self.flushes.beginBatch()
        for command in commands { self.run(command) }
        if self.flushes.endBatch() { self.flush() }
    }

    // MARK: - Calls

    func run(_ command: Command) {
        switch command {
        case .startUnary(let frame, let promise, let cancelled):
            let timeout = frame.timeout
            guard cancelled?.isSet != true else {
                promise.fail(CancellationError())
                return
            }
            let token = timeout == nil ? nil : self.deadlines?.makeToken()
            self.start(frame, .unary(promise, deadline: token, timeout: timeout))
            // Registered (not failed at once): now its deadline.
            if let timeout, let token, self.pending[frame.callID] != nil {
                self.deadlines?.add(
                    callID: frame.callID,
                    token: token,
                    timeout: TimeAmount(timeout),
                    openCalls: self.pending.count
                )
            }
        case .startStream(let frame, let receiver):
            self.start(frame, .stream(receiver))
        case .cancel(let callID, let error):
            self.cancel(callID: callID, error: error)
        }
    }

    /// Registers a call and sends its first frame.
    func start(_ frame: Frame, _ pending: Pending) {
        if let error = self.endedWith ?? (self.context == nil ? Self.closedError : nil) {
            Self.fail(pending, with: error)
            return
        }
        self.pending[frame.callID] = pending
        self.write(frame)
    }

    /// Ends a unary call whose server did not answer within its timeout.
    private func expire(callID: UInt64) {
        guard case .unary(_, _, let timeout?) = self.pending[callID] else { return }
        self.cancel(
            callID: callID,
            error: LeaseholdError(
                code: .deadlineExceeded,
                message: "no answer within \(timeout)",
                cause: NoAnswerWithinDeadline(timeout: timeout)
            )
        )
    }

    /// Gives up on a call: fails it locally and tells the server with CANCEL.
    func cancel(callID: UInt64, error: any Error) {
        guard let pending = self.pending.removeValue(forKey: callID) else { return }
        Self.fail(pending, with: error)
        if self.context != nil, self.endedWith == nil { self.write(.cancel(callID: callID)) }
    }

    private func write(_ frame: Frame) {
        guard let context = self.context else { return }
        context.write(Self.wrapOutboundOut(frame), promise: nil)
        guard self.flushes.noteWrite() else { return }
        context.eventLoop.assumeIsolated().execute {
            if self.flushes.deferredFlushRuns() { self.flush() }
        }
    }

    private func flush() {
        self.context?.flush()
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        self.flushes.beginBatch()
        if frame.callID == 0 {
            if let error = frame.status?.error { self.end(with: error) }
            return
        }
        guard let pending = self.pending[frame.callID] else { return }  // cancelled or unknown: drop
        switch pending {
        case .unary(let promise, _, _):
            guard let status = frame.status else { return }
            self.pending.removeValue(forKey: frame.callID)
            if let error = status.error {
                promise.fail(error)
            } else {
                promise.succeed(frame.payload)
            }
        case .stream(let receiver):
            if frame.payload.readableBytes > 0 || frame.status == nil, !receiver.item(frame.payload) {
                self.cancel(callID: frame.callID, error: MalformedMessage(messageName: "stream item"))
                return
            }
            if let status = frame.status {
                self.pending.removeValue(forKey: frame.callID)
                receiver.end(status.error)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.flushes.endBatch() { self.flush() }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.end(with: Self.closedError)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let message: String
        switch error {
        case let error as FrameTooLarge where !self.usesTLS && Self.looksLikeTLSRecord(length: error.length):
            message = "the server speaks TLS; connect with TLS (--tls-ca) (read a TLS record, length \(error.length))"
        case let error as FrameTooLarge: message = "server sent a frame of \(error.length) bytes"
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError: message = "TLS handshake failed: \(error)"
        case let error as MalformedMessage: message = "server sent bytes that are not a \(error.messageName)"
        default: message = "connection error: \(error)"
        }
        self.end(with: LeaseholdError(code: .unavailable, message: message, cause: error))
        context.close(promise: nil)
    }

    /// Whether a frame's length prefix is the start of a TLS record (a handshake or an alert, TLS 1.x): what a
    /// plaintext client reads from a TLS server.
    static func looksLikeTLSRecord(length: Int) -> Bool {
        let contentType = (length >> 24) & 0xff
        let majorVersion = (length >> 16) & 0xff
        return (contentType == 0x15 || contentType == 0x16) && majorVersion == 0x03
    }

    private func end(with error: LeaseholdError) {
        if self.endedWith == nil { self.endedWith = error }
        self.failure?.record(error)
        let pending = self.pending
        self.pending.removeAll()
        for entry in pending.values { Self.fail(entry, with: error) }
    }

    private static let closedError = LeaseholdError(code: .unavailable, message: "connection closed")

    private static func fail(_ pending: Pending, with error: any Error) {
        switch pending {
        case .unary(let promise, _, _):
            promise.fail(error)
        case .stream(let receiver):
            receiver.end(error)
        }
    }
}

@available(*, unavailable)
extension ClientConnectionHandler: Sendable {}
