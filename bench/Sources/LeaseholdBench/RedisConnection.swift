import LeaseholdWire
import NIOCore
import NIOPosix

/// A Redis reply (RESP2), as far as the lock workloads need one.
enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// A bulk string; nil is the null bulk string (`$-1`), e.g. a `SET … NX` that did not set.
    case bulkString(ByteBuffer?)
    /// An array; nil is the null array (`*-1`).
    case array([RESPValue]?)
}

/// A reply that breaks the protocol: the connection is closed.
struct RESPProtocolError: Error, CustomStringConvertible {
    var description: String
}

/// A Redis error reply (`-ERR …`), or a reply of an unexpected kind.
struct RedisReplyError: Error, CustomStringConvertible {
    var description: String
}

/// RESP encoding and decoding: the few lines of the protocol a lock client needs, written here because no Redis
/// client library is available to the package.
enum RESP {
    /// Appends a command as RESP sends it: an array of bulk strings.
    static func encode(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        self.writeDecimal(arguments.count, into: &buffer)
        for argument in arguments {
            buffer.writeInteger(UInt8(ascii: "$"))
            self.writeDecimal(argument.utf8.count, into: &buffer)
            buffer.writeString(argument)
            buffer.writeInteger(UInt16(0x0D0A))  // "\r\n", big-endian
        }
    }

    /// Writes `value` in decimal followed by "\r\n".
    private static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(String(value))
        buffer.writeInteger(UInt16(0x0D0A))
    }

    /// Parses one reply from the front of `buffer`, or returns nil (and leaves the reader index anywhere) when the
    /// buffer does not hold a whole reply yet.
    static func parse(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        guard let kind = buffer.readInteger(as: UInt8.self) else { return nil }
        switch kind {
        case UInt8(ascii: "+"):
            return self.readLine(&buffer).map { .simpleString($0) }
        case UInt8(ascii: "-"):
            return self.readLine(&buffer).map { .error($0) }
        case UInt8(ascii: ":"):
            guard let line = self.readLine(&buffer) else { return nil }
            guard let value = Int64(line) else { throw RESPProtocolError(description: "bad integer reply \(line)") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let line = self.readLine(&buffer) else { return nil }
            guard let length = Int(line), length >= -1 else {
                throw RESPProtocolError(description: "bad bulk string length \(line)")
            }
            if length == -1 { return .bulkString(nil) }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readSlice(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let line = self.readLine(&buffer) else { return nil }
            guard let count = Int(line), count >= -1 else {
                throw RESPProtocolError(description: "bad array length \(line)")
            }
            if count == -1 { return .array(nil) }
            var elements: [RESPValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                guard let element = try self.parse(&buffer) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw RESPProtocolError(description: "unknown reply type \(kind)")
        }
    }

    /// Reads up to "\r\n" and consumes it, or returns nil if the line is not complete.
    private static func readLine(_ buffer: inout ByteBuffer) -> String? {
        let view = buffer.readableBytesView
        guard let carriageReturn = view.firstIndex(of: UInt8(ascii: "\r")) else { return nil }
        let length = view.distance(from: view.startIndex, to: carriageReturn)
        guard buffer.readableBytes >= length + 2 else { return nil }
        let line = buffer.readString(length: length)
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}

/// Cuts the byte stream into replies.
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        var attempt = buffer  // shares storage: only the reader index moves
        guard let value = try RESP.parse(&attempt) else { return .needMoreData }
        buffer.moveReaderIndex(to: attempt.readerIndex)
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        try self.decode(context: context, buffer: &buffer)
    }
}

/// Matches replies to calls: Redis answers a connection's commands in the order it sent them.
final class RedisReplyHandler: ChannelInboundHandler {
    typealias InboundIn = RESPValue

    private var pending = CircularBuffer<EventLoopPromise<RESPValue>>()

    func enqueue(_ promise: EventLoopPromise<RESPValue>) {
        self.pending.append(promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        guard let promise = self.pending.popFirst() else {
            context.close(promise: nil)
            return
        }
        promise.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(LeaseholdError(code: .unavailable, message: "the Redis connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.failAll(LeaseholdError(code: .unavailable, message: "the Redis connection failed: \(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        while let promise = self.pending.popFirst() { promise.fail(error) }
    }
}

/// One TCP connection to a Redis server, used from its event loop: calls are sent at once and flushed, and each
/// returns a future of its reply.
final class RedisConnection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<RedisReplyHandler>

    var eventLoop: any EventLoop { self.channel.eventLoop }

    private init(channel: any Channel, handler: NIOLoopBound<RedisReplyHandler>) {
        self.channel = channel
        self.handler = handler
    }

    /// Connects with TCP_NODELAY, as the Leasehold connections of the same workloads do.
    static func connect(host: String, port: Int, group: any EventLoopGroup) async throws -> RedisConnection {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(RESPDecoder()))
                    try sync.addHandler(RedisReplyHandler())
                }
            }
            .connect(host: host, port: port)
            .get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(
                try channel.pipeline.syncOperations.handler(type: RedisReplyHandler.self),
                eventLoop: channel.eventLoop
            )
        }.get()
        return RedisConnection(channel: channel, handler: handler)
    }

    /// Sends one command; must be called on the connection's event loop.
    func call(_ arguments: [String]) -> EventLoopFuture<RESPValue> {
        let promise = self.channel.eventLoop.makePromise(of: RESPValue.self)
        self.handler.value.enqueue(promise)
        var buffer = self.channel.allocator.buffer(capacity: 96)
        RESP.encode(arguments, into: &buffer)
        self.channel.writeAndFlush(buffer, promise: nil)
        return promise.futureResult
    }

    /// Sends one command from anywhere and waits for its reply.
    func callFromAnywhere(_ arguments: [String]) async throws -> RESPValue {
        try await self.channel.eventLoop.flatSubmit { self.call(arguments) }.get()
    }

    func close() async {
        try? await self.channel.close()
    }
}
