public import LeaseholdWire
public import NIOCore
import NIOPosix

/// A client that writes whatever bytes a test gives it and reads the server's frames: for requests no well-behaved
/// encoder would make (a NUL inside a key, half a frame, a header that never ends).
///
/// ```swift
/// let client = try await RawSocketClient.connect(port: port)
/// try await client.send(Frame(callID: 1, method: LeaseholdMethod.hello.name, payload: HelloRequest().encoded()))
/// let answer = try await client.next()
/// ```
public final class RawSocketClient: Sendable {
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
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.continuation.finish()
            context.close(promise: nil)
        }
    }

    private init(channel: any Channel, frames: AsyncStream<Frame>) {
        self.channel = channel
        self.frames = frames
    }

    /// Connects over TCP to `host:port`; nothing is sent.
    /// - Parameters:
    ///   - host: The server's address.
    ///   - port: The server's port.
    ///   - configure: Adds handlers in front of the frame codec (a TLS handler, say).
    public static func connect(
        host: String = "127.0.0.1",
        port: Int,
        configure: @escaping @Sendable (any Channel) throws -> Void = { _ in }
    ) async throws -> RawSocketClient {
        let (frames, continuation) = AsyncStream.makeStream(of: Frame.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try configure(channel)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameLength: 16 << 20)))
                    try sync.addHandler(Collector(continuation))
                }
            }
            .connect(host: host, port: port).get()
        return RawSocketClient(channel: channel, frames: frames)
    }

    /// Writes `bytes` as they are.
    public func send(bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Writes `frame` with its length prefix.
    public func send(_ frame: Frame) async throws {
        var buffer = ByteBuffer()
        frame.encodeWithLengthPrefix(into: &buffer)
        try await self.channel.writeAndFlush(buffer)
    }

    /// Sends `Hello` as call `callID` and returns its status.
    public func hello(token: String = "", callID: UInt64 = 1) async throws -> Status? {
        try await self.send(
            Frame(callID: callID, method: LeaseholdMethod.hello.name, payload: HelloRequest(token: token).encoded())
        )
        return try await self.next()?.status
    }

    /// The next frame from the server, or `nil` once the connection has closed.
    /// - Parameter timeout: How long to wait before throwing ``RawSocketClientTimedOut``.
    public func next(timeout: Duration = .seconds(10)) async throws -> Frame? {
        let frames = self.frames
        return try await withThrowingTaskGroup(of: Frame?.self) { group in
            group.addTask {
                var iterator = frames.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw RawSocketClientTimedOut()
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// The status of the next frame of `callID` that carries one (frames of other calls are skipped), or `nil` once
    /// the connection has closed.
    public func status(of callID: UInt64, timeout: Duration = .seconds(10)) async throws -> Frame? {
        while let frame = try await self.next(timeout: timeout) {
            if frame.callID == callID, frame.status != nil { return frame }
        }
        return nil
    }

    /// Completes when the server has closed the connection (or throws after `timeout`).
    public func waitUntilClosed(timeout: Duration = .seconds(10)) async throws {
        while try await self.next(timeout: timeout) != nil {}
    }

    /// Whether the connection is still open.
    public var isActive: Bool { self.channel.isActive }

    /// Closes the connection.
    public func close() async { try? await self.channel.close() }
}

/// ``RawSocketClient/next(timeout:)`` saw no frame in time.
public struct RawSocketClientTimedOut: Error {}
