import LeaseholdTestUtilities
import LeaseholdWire
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import LeaseholdRPC

#if canImport(Glibc)
import Glibc
#endif

@Suite("Connection bounds: accept backoff, Hello and frame deadlines, connection and call caps")
struct ConnectionBoundsTests {
    // MARK: - Frame deadline

    @Test("FrameProgress sees a frame start at its first header byte and end at its last body byte")
    func frameProgress() {
        var progress = FrameProgress()
        #expect(!progress.isInsideFrame)
        #expect(progress.consume(ByteBuffer(bytes: [0, 0])) == 0)
        #expect(progress.isInsideFrame)
        #expect(progress.consume(ByteBuffer(bytes: [0, 3, 1, 2])) == 0)
        #expect(progress.isInsideFrame)
        #expect(progress.consume(ByteBuffer(bytes: [3])) == 1)
        #expect(!progress.isInsideFrame)
        // Two whole frames (one empty) and the start of a third, in one read.
        #expect(progress.consume(ByteBuffer(bytes: [0, 0, 0, 0, 0, 0, 0, 1, 9, 0])) == 2)
        #expect(progress.isInsideFrame)
        #expect(progress.consume(ByteBuffer(bytes: [0, 0, 0])) == 1)
        #expect(!progress.isInsideFrame)
    }

    private func frameDeadlineChannel(observer: RefusalCounter = RefusalCounter()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(FrameDeadlineHandler(timeout: .seconds(30), observer: observer))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test("a frame started and not finished within --frame-timeout closes the connection with DEADLINE_EXCEEDED")
    func slowFrame() throws {
        let refusals = RefusalCounter()
        let channel = try self.frameDeadlineChannel(observer: refusals)
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 10, 1, 2]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        // More bytes of the same frame do not restart its clock.
        try channel.writeInbound(ByteBuffer(bytes: [3, 4]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        var goodbye = try #require(try channel.readOutbound(as: ByteBuffer.self))
        var decoder = FrameDecoder()
        let frame = try #require(try decoder.decode(buffer: &goodbye))
        #expect(frame.callID == 0)
        #expect(frame.status?.code == .deadlineExceeded)
        #expect(!channel.isActive)
        #expect(refusals.all == [.frameTimeout: 1])
    }

    @Test("whole frames, however slow the connection is between them, never trip the frame deadline")
    func wholeFrames() throws {
        let channel = try self.frameDeadlineChannel()
        for _ in 0..<3 {
            try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 2, 7, 7]))
            channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        }
        // A frame that ends in the same read as the next one starts: the new one gets its own 30 s.
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 1]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        try channel.writeInbound(ByteBuffer(bytes: [5, 0, 0]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil)
        #expect(!channel.isActive)
        #expect(try channel.readInbound(as: ByteBuffer.self) != nil)  // the bytes were passed on
    }

    // MARK: - Hello deadline

    private func helloChannel(
        timeout: Duration,
        observer: RefusalCounter = RefusalCounter()
    ) async throws -> NIOAsyncTestingChannel {
        var limits = RPCServer.Limits()
        limits.helloTimeout = timeout
        let channel = try await serverHandlerChannel(limits: limits, observer: observer)
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
        return channel
    }

    @Test("a connection that says nothing is closed with UNAUTHENTICATED at --hello-timeout, not before")
    func silentConnection() async throws {
        let refusals = RefusalCounter()
        let channel = try await self.helloChannel(timeout: .seconds(10), observer: refusals)
        await channel.testingEventLoop.advanceTime(by: .milliseconds(9_999))
        #expect(try await channel.readOutboundFrame() == nil)
        #expect(channel.isActive)
        await channel.testingEventLoop.advanceTime(by: .milliseconds(1))
        let goodbye = try await channel.waitForOutboundFrame()
        #expect(goodbye.callID == 0)
        #expect(goodbye.status?.code == .unauthenticated)
        try await channel.closeFuture.get()
        #expect(refusals.all == [.helloTimeout: 1])
    }

    @Test("a failed Hello does not stop the clock; a successful one does")
    func helloStopsTheClock() async throws {
        let channel = try await self.helloChannel(timeout: .seconds(10))
        try await channel.deliver(
            Frame(callID: 1, method: LeaseholdMethod.hello.name, payload: HelloRequest(protocolVersion: 9).encoded())
        )
        #expect(try await channel.waitForOutboundFrame().status?.code == .unsupportedProtocol)
        await channel.testingEventLoop.advanceTime(by: .seconds(5))
        try await channel.deliver(
            Frame(callID: 2, method: LeaseholdMethod.hello.name, payload: HelloRequest().encoded())
        )
        #expect(try await channel.waitForOutboundFrame().status?.code == .ok)
        await channel.testingEventLoop.advanceTime(by: .seconds(60))
        #expect(try await channel.readOutboundFrame() == nil)
        #expect(channel.isActive)
        _ = try? await channel.finish()
    }

    @Test("a client_name longer than --max-name-bytes is INVALID_ARGUMENT; at the limit it is fine")
    func clientNameBound() async throws {
        let channel = try await self.helloChannel(timeout: .seconds(10))
        let long = HelloRequest(clientName: String(repeating: "n", count: 257))
        try await channel.deliver(Frame(callID: 1, method: LeaseholdMethod.hello.name, payload: long.encoded()))
        let refused = try await channel.waitForOutboundFrame()
        #expect(refused.status?.code == .invalidArgument)
        #expect(refused.status?.message.contains("client_name") == true)
        let fits = HelloRequest(clientName: String(repeating: "n", count: 256))
        try await channel.deliver(Frame(callID: 2, method: LeaseholdMethod.hello.name, payload: fits.encoded()))
        #expect(try await channel.waitForOutboundFrame().status?.code == .ok)
        _ = try? await channel.finish()
    }

    // MARK: - Accept backoff

    /// Records the reads that reach the head of the pipeline (the socket).
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Never
        var reads = 0
        func read(context: ChannelHandlerContext) {
            self.reads += 1
            context.read()
        }
    }

    @Test("after accept fails for want of descriptors, the listener stops reading for the backoff, then reads again")
    func acceptBackoff() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        // An hour, so that however slow this machine is the pause cannot end before the test looks.
        try channel.pipeline.syncOperations.addHandler(RPCServer.acceptBackoffHandler(pause: .hours(1)))
        channel.read()
        #expect(counter.reads == 1)
        channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        channel.read()
        channel.read()
        #expect(counter.reads == 1)
        channel.embeddedEventLoop.advanceTime(to: .now() + .hours(2))
        #expect(counter.reads == 2)
    }

    @Test("the server's listener has the accept backoff installed")
    func listenerHasBackoff() async throws {
        try await withTestServer { server, _ in
            let listener = try #require(server.listenerChannel)
            try await listener.eventLoop.submit {
                _ = try listener.pipeline.syncOperations.handler(type: AcceptBackoffHandler.self)
            }.get()
        }
    }

    // MARK: - Connection and call caps

    @Test("one connection past --max-connections is told RESOURCE_EXHAUSTED and closed; a freed slot is reused")
    func maxConnections() async throws {
        var limits = RPCServer.Limits()
        limits.maxConnections = 2
        let refusals = RefusalCounter()
        try await withTestServer(limits: limits, observer: refusals) { server, port in
            let first = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            let second = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            defer { Task { await second.close() } }
            let third = try await RawFrameClient(port: port)
            defer { Task { await third.close() } }
            let refusal = try #require(await third.next())
            #expect(refusal.callID == 0)
            #expect(refusal.status?.code == .resourceExhausted)
            #expect(refusal.status?.message.contains("--max-connections") == true)
            #expect(await third.next() == nil)  // closed
            #expect(refusals.all == [.maxConnections: 1])

            await first.close()
            #expect(await eventually { server.connectionCount < 2 })
            let fourth = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            await fourth.close()
        }
    }

    @Test("one call past the per-connection cap is RESOURCE_EXHAUSTED; the open calls and the connection go on")
    func maxCallsPerConnection() async throws {
        var limits = RPCServer.Limits()
        limits.maxConcurrentCallsPerConnection = 3
        let service = TestService()
        try await withTestServer(service: service, limits: limits) { _, port in
            let raw = try await RawFrameClient(port: port)
            defer { Task { await raw.close() } }
            #expect(try await raw.hello()?.status?.code == .ok)
            for callID: UInt64 in 2...4 {
                try await raw.send(Frame(callID: callID, method: TestService.hang.name, payload: Empty().encoded()))
            }
            try await raw.send(Frame(callID: 5, method: TestService.hang.name, payload: Empty().encoded()))
            let refused = try #require(await raw.next())
            #expect(refused.callID == 5)
            #expect(refused.status?.code == .resourceExhausted)
            #expect(refused.status?.message.contains("3 calls") == true)
            // Cancelling one open call makes room for another.
            try await raw.send(Frame.cancel(callID: 2))
            let cancelled = try #require(await raw.next())
            #expect(cancelled.callID == 2)
            #expect(cancelled.status?.code == .cancelled)
            try await raw.send(
                Frame(callID: 6, method: TestService.echo.name, payload: ForceReleaseRequest(key: "k").encoded())
            )
            // (The test service's hanging calls may end as they see one cancelled; only call 6 matters here.)
            var echoed = try #require(await raw.next())
            for _ in 0..<3 where echoed.callID != 6 { echoed = try #require(await raw.next()) }
            #expect(echoed.callID == 6)
            #expect(echoed.status?.code == .ok)
        }
    }
}
