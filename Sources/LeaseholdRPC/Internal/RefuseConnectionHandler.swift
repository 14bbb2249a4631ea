import LeaseholdWire
import NIOCore

/// Answers a connection the server will not serve with one connection-level frame carrying `status`, then closes it:
/// the client learns why instead of seeing a bare reset.
final class RefuseConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let status: Status

    init(status: Status) { self.status = status }

    func channelActive(context: ChannelHandlerContext) {
        var goodbye = ByteBuffer()
        Frame(callID: 0, status: self.status).encodeWithLengthPrefix(into: &goodbye)
        context.writeAndFlush(Self.wrapOutboundOut(goodbye)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// Whatever the client sends meanwhile is dropped.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

@available(*, unavailable)
extension RefuseConnectionHandler: Sendable {}
