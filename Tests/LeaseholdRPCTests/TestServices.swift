import Foundation
import LeaseholdConcurrency
import LeaseholdWire
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization

@testable import LeaseholdRPC

/// Methods that exercise the RPC layer without any lock logic.
struct TestService: RPCService {
    static let echo = MethodDescriptor<ForceReleaseRequest, ForceReleaseRequest>("test.Test/Echo")
    static let hang = MethodDescriptor<Empty, Empty>("test.Test/Hang")
    static let gather = MethodDescriptor<ForceReleaseRequest, ForceReleaseRequest>("test.Test/Gather")
    static let flood = StreamingMethodDescriptor<Empty, ListRequest>("test.Test/Flood")
    static let count = StreamingMethodDescriptor<ListRequest, ListResponse>("test.Test/Count")
    /// `Echo` called with a request it cannot decode.
    static let echoWithWrongRequest = MethodDescriptor<Empty, Empty>("test.Test/Echo")
    /// A method no service serves.
    static let unknown = MethodDescriptor<Empty, Empty>("nope.Nope/Nothing")

    /// Set when a `Hang` call's handler sees its cancellation.
    let cancellations = Cancellations()
    /// Holds `Gather` calls until ``Gathering/count`` have arrived.
    let gathering = Gathering()
    /// How many items `Flood` managed to send before its stream ended.
    let floodSent = Counter()
    /// How many `Flood` handlers have returned (their stream was ended under them).
    let floodsEnded = Counter()

    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func add(_ amount: Int) { self.value.add(amount, ordering: .relaxed) }
        var count: Int { self.value.load(ordering: .relaxed) }
    }

    /// Parks `Gather` calls until `count` have arrived, then answers them all from one thread of its own, inside one
    /// ``WakeupBatch``, as the store's writer answers a group commit: each is echoed with its key and the number of
    /// calls answered before it in the batch as the reason.
    final class Gathering: Sendable {
        static let count = 16
        private let parked = Mutex<[(String, @Sendable (Result<ForceReleaseRequest, any Error>) -> Void)]>([])

        func park(_ key: String, _ respond: @escaping @Sendable (Result<ForceReleaseRequest, any Error>) -> Void) {
            let all = self.parked.withLock {
                parked -> [(String, @Sendable (Result<ForceReleaseRequest, any Error>) -> Void)]? in
                parked.append((key, respond))
                guard parked.count == Self.count else { return nil }
                defer { parked.removeAll() }
                return parked
            }
            guard let all else { return }
            let thread = Thread {
                WakeupBatch.run {
                    for (index, (key, respond)) in all.enumerated() {
                        respond(.success(ForceReleaseRequest(key: key, reason: "\(index)")))
                    }
                }
            }
            thread.start()
        }
    }

    /// Counts `Hang` handlers started and cancelled, and parks them until their cancellation.
    final class Cancellations: Sendable {
        private let state = Mutex((started: 0, cancelled: 0, parked: [CheckedContinuation<Void, Never>]()))
        var count: Int { self.state.withLock { $0.cancelled } }
        var started: Int { self.state.withLock { $0.started } }
        func recordStart() { self.state.withLock { $0.started += 1 } }
        /// Parks a handler, or lets it return at once if a cancellation came before it parked.
        func park(_ continuation: CheckedContinuation<Void, Never>) {
            let parked = self.state.withLock { state -> Bool in
                guard state.cancelled < state.started else { return false }
                state.parked.append(continuation)
                return true
            }
            if !parked { continuation.resume() }
        }

        /// Records a cancellation and lets every parked handler of this service return.
        func record() {
            let parked = self.state.withLock { state in
                state.cancelled += 1
                defer { state.parked.removeAll() }
                return state.parked
            }
            for continuation in parked { continuation.resume() }
        }
    }

    var methods: [RPCMethod] {
        let cancellations = self.cancellations
        let floodSent = self.floodSent
        let floodsEnded = self.floodsEnded
        let gathering = self.gathering
        return [
            // Answers once `Gathering.count` calls wait, all from one thread in one batch of wake-ups.
            .unaryCallback(Self.gather) { (request: ForceReleaseRequest, _, respond) in
                gathering.park(request.key, respond)
                return nil
            },
            // Echoes the key back, with the principal in the reason, after an optional tiny pause.
            .unary(Self.echo) { (request: ForceReleaseRequest, context) in
                if request.reason == "yield" { await Task.yield() }
                return ForceReleaseRequest(key: request.key, reason: context.principal.name)
            },
            // Never answers: waits for its cancellation.
            .unary(Self.hang) { (_: Empty, _) -> Empty in
                cancellations.recordStart()
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        cancellations.park(continuation)
                    }
                } onCancel: {
                    cancellations.record()
                }
                throw CancellationError()
            },
            // Streams 1 KiB items as fast as it can, until the stream is ended under it.
            .serverStreaming(Self.flood) { _, _, writer in
                defer { floodsEnded.add(1) }
                let item = ListRequest(prefix: String(repeating: "x", count: 1_024), limit: 0).encoded()
                while true {
                    do {
                        try writer.send(encoded: item)
                    } catch {
                        return
                    }
                    floodSent.add(1)
                    if floodSent.count % 64 == 0 { await Task.yield() }
                    if floodSent.count > 2_000_000 { return }  // a bound in case nothing stops it
                }
            },
            // Streams `limit` items, then ends OK.
            .serverStreaming(Self.count) { (request: ListRequest, _, writer: RPCStreamWriter<ListResponse>) in
                for index in 0..<request.limit {
                    try writer.send(ListResponse(locks: [], revision: UInt64(index)))
                }
            },
        ]
    }
}

/// A server on 127.0.0.1 and an ephemeral port, stopped by the caller.
func withTestServer<R>(
    service: TestService = TestService(),
    authenticator: Authenticator = .anonymous,
    limits: RPCServer.Limits = RPCServer.Limits(),
    tls: ServerTLSConfiguration? = nil,
    observer: (any RPCCallObserver)? = nil,
    logger: Logger = Logger(label: "test"),
    _ body: (RPCServer, Int) async throws -> R
) async throws -> R {
    var configuration = RPCServer.Configuration(host: "127.0.0.1", port: 0)
    configuration.authenticator = authenticator
    configuration.tls = tls
    configuration.observer = observer
    configuration.limits = limits
    // Wall-clock deadlines a loaded test machine could trip; ConnectionBoundsTests tests them on a manual clock.
    configuration.limits.helloTimeout = .seconds(300)
    configuration.limits.frameTimeout = .seconds(300)
    let server = RPCServer(configuration: configuration, services: [service], logger: logger)
    let address = try await server.start()
    do {
        let result = try await body(server, address.port!)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// A testing channel whose pipeline is one server connection handler, serving `service` (no methods when nil) and
/// answering `Hello` for anyone; frames go in and out as ``Frame`` values, and time moves by hand.
func serverHandlerChannel(
    service: TestService? = nil,
    limits: RPCServer.Limits = RPCServer.Limits(),
    observer: (any RPCCallObserver)? = nil
) async throws -> NIOAsyncTestingChannel {
    var methods: [String: RPCMethod] = [:]
    for method in service?.methods ?? [] { methods[method.name] = method }
    let shared = ServerConnectionHandler.Shared(
        methods: methods,
        authenticator: .anonymous,
        hello: { principal in
            HelloResponse(
                serverVersion: "t",
                serverID: "t",
                protocolVersion: 1,
                maxFrameBytes: 1 << 20,
                principal: principal.name,
                roles: []
            )
        },
        limits: limits,
        logger: Logger(label: "test"),
        observer: observer
    )
    let channel = NIOAsyncTestingChannel()
    try await channel.testingEventLoop.executeInContext {
        try channel.pipeline.syncOperations.addHandler(
            ServerConnectionHandler(shared: shared, connectionID: ConnectionID(rawValue: 1))
        )
    }
    return channel
}

/// A client that speaks raw frames, without the project's client code: it sees exactly what the server sends.
final class RawFrameClient: Sendable {
    let channel: any Channel
    let frames: AsyncStream<Frame>

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = Frame
        let continuation: AsyncStream<Frame>.Continuation
        init(continuation: AsyncStream<Frame>.Continuation) { self.continuation = continuation }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.continuation.yield(Self.unwrapInboundIn(data))
        }
        func channelInactive(context: ChannelHandlerContext) { self.continuation.finish() }
    }

    init(port: Int, autoRead: Bool = true, receiveBuffer: Int? = nil) async throws {
        let (frames, continuation) = AsyncStream.makeStream(of: Frame.self)
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: autoRead)
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        self.channel = try await bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(FrameDecoder(maximumFrameLength: 16 << 20))
                )
                try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
            }
        }.connect(host: "127.0.0.1", port: port).get()
        self.frames = frames
    }

    /// Sends a frame with its length prefix (no encoder in the pipeline, so raw bytes can be sent too).
    func send(_ frame: Frame) async throws {
        var buffer = ByteBuffer()
        frame.encodeWithLengthPrefix(into: &buffer)
        try await self.channel.writeAndFlush(buffer)
    }

    func sendRaw(_ bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Says Hello and returns the server's answer frame.
    func hello(token: String = "", version: UInt32 = 1) async throws -> Frame? {
        try await self.send(
            Frame(
                callID: 1,
                method: LeaseholdMethod.hello.name,
                payload: HelloRequest(protocolVersion: version, token: token).encoded()
            )
        )
        return await self.next()
    }

    /// The next frame, or nil when the connection closed.
    func next() async -> Frame? {
        var iterator = self.frames.makeAsyncIterator()
        return await iterator.next()
    }

    func close() async { try? await self.channel.close() }
}

/// Counts the connections a server refused or closed by its bounds, by reason.
final class RefusalCounter: RPCCallObserver {
    private let counts = Mutex<[ConnectionRefusal: Int]>([:])

    let methodNames: [String] = []
    func callEnded(method: Int, code: LeaseholdError.Code, duration: Duration) {}

    func connectionRefused(_ reason: ConnectionRefusal) {
        self.counts.withLock { $0[reason, default: 0] += 1 }
    }

    /// The refusals so far, by reason (reasons never seen are absent).
    var all: [ConnectionRefusal: Int] { self.counts.withLock { $0 } }
}
