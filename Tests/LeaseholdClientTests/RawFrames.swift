import LeaseholdWire
import NIOCore
import NIOPosix

/// A raw frame client with reading switched off (a small receive buffer), for watchers that do not read.
final class RawFrames: Sendable {
    private let channel: any Channel
    private let frames: AsyncStream<Frame>

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = Frame
        let continuation: AsyncStream<Frame>.Continuation
        init(_ continuation: AsyncStream<Frame>.Continuation) { self.continuation = continuation }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.continuation.yield(Self.unwrapInboundIn(data))
        }
        func channelInactive(context: ChannelHandlerContext) { self.continuation.finish() }
    }

    init(port: Int) async throws {
        let (frames, continuation) = AsyncStream.makeStream(of: Frame.self)
        self.frames = frames
        self.channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.so_rcvbuf), value: 8 << 10)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrameDecoder(maximumFrameLength: 16 << 20))
                    )
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    /// Says Hello (reading just its answer), then opens a watch of everything from now as call 2.
    func helloThenWatch() async throws {
        try await self.channel.writeAndFlush(
            Frame(callID: 1, method: LeaseholdMethod.hello.name, payload: HelloRequest().encoded())
        )
        self.channel.read()
        var iterator = self.frames.makeAsyncIterator()
        _ = await iterator.next()
        try await self.channel.writeAndFlush(
            Frame(
                callID: 2,
                method: LeaseholdMethod.watch.name,
                payload: WatchRequest(prefix: "", startRevision: 0).encoded()
            )
        )
    }

    func drainUntilStatus(callID: UInt64) async -> Status? {
        try? await self.channel.setOption(.autoRead, value: true).get()
        for await frame in self.frames where frame.callID == callID {
            if let status = frame.status { return status }
        }
        return nil
    }

    func close() async { try? await self.channel.close() }
}
