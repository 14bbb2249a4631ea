import LeaseholdWire
import NIOCore

/// Where a byte stream of length-prefixed frames stands: between frames, or inside one.
///
/// Pure: fed the sizes of the reads as they come, it says whether a frame has started and not yet ended. It reads
/// only the 4-byte length headers, as the frame decoder does, and never holds a body.
struct FrameProgress: Equatable, Sendable {
    /// Header bytes seen of the frame being read (0 between frames, up to 4).
    private var headerBytes = 0
    /// The header's value so far, big-endian.
    private var length: UInt32 = 0
    /// Body bytes still to come once the header is complete.
    private var remaining = 0

    /// Whether a frame has started (at least one byte of its header) and has not ended.
    var isInsideFrame: Bool { self.headerBytes > 0 }

    /// Accounts for the bytes of one read, in order.
    /// - Returns: How many frames ended within these bytes.
    @discardableResult
    mutating func consume(_ buffer: ByteBuffer) -> Int {
        var completed = 0
        var view = buffer.readableBytesView[...]
        while !view.isEmpty {
            if self.headerBytes < 4 {
                self.length = self.length << 8 | UInt32(view.first!)
                self.headerBytes += 1
                view = view.dropFirst()
                if self.headerBytes == 4 {
                    self.remaining = Int(self.length)
                    if self.remaining == 0 {
                        self.reset()
                        completed += 1
                    }
                }
            } else {
                let taken = min(self.remaining, view.count)
                self.remaining -= taken
                view = view.dropFirst(taken)
                if self.remaining == 0 {
                    self.reset()
                    completed += 1
                }
            }
        }
        return completed
    }

    private mutating func reset() { self = FrameProgress() }
}

/// Closes a connection whose started frame does not complete within ``timeout`` (a slow-loris client that trickles
/// or stops mid-frame), with a connection-level `DEADLINE_EXCEEDED` frame.
///
/// Sits in front of the frame decoder and passes every byte on; it only watches the frame boundaries.
final class FrameDeadlineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let timeout: TimeAmount
    private let observer: (any RPCCallObserver)?
    private var progress = FrameProgress()
    private var deadline: Scheduled<Void>?

    /// - Parameters:
    ///   - timeout: How long one frame may take from its first byte to its last.
    ///   - observer: Told when the deadline closes the connection.
    init(timeout: TimeAmount, observer: (any RPCCallObserver)? = nil) {
        self.timeout = timeout
        self.observer = observer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let completed = self.progress.consume(Self.unwrapInboundIn(data))
        if !self.progress.isInsideFrame {
            self.stopClock()
        } else if self.deadline == nil || completed > 0 {
            // A frame began: the first one, or a new one after frames that ended in this read. Each gets its time.
            self.startClock(context: context)
        }
        context.fireChannelRead(data)
    }

    private func startClock(context: ChannelHandlerContext) {
        self.deadline?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.deadline = context.eventLoop.scheduleTask(in: self.timeout) {
            let (handler, context) = loopBound.value
            handler.expire(context: context)
        }
    }

    private func stopClock() {
        self.deadline?.cancel()
        self.deadline = nil
    }

    private func expire(context: ChannelHandlerContext) {
        self.deadline = nil
        self.observer?.connectionRefused(.frameTimeout)
        let seconds = Double(self.timeout.nanoseconds) / 1e9
        var goodbye = ByteBuffer()
        Frame(
            callID: 0,
            status: Status(code: .deadlineExceeded, message: "a frame was not completed within \(seconds) s")
        ).encodeWithLengthPrefix(into: &goodbye)
        context.writeAndFlush(Self.wrapOutboundOut(goodbye)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { self.stopClock() }

    func channelInactive(context: ChannelHandlerContext) {
        self.stopClock()
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension FrameDeadlineHandler: Sendable {}
