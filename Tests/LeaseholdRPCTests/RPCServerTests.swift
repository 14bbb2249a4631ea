import Foundation
import LeaseholdTestUtilities
import LeaseholdWire
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import LeaseholdRPC

@Suite("RPC server over loopback")
struct RPCServerTests {
    @Test("1,000 concurrent calls on one connection are all answered with matching call_ids")
    func concurrentCalls() async throws {
        try await withTestServer { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            defer { Task { await connection.close() } }
            let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<1_000 {
                    group.addTask {
                        let response: ForceReleaseRequest = try await connection.unary(
                            TestService.echo,
                            ForceReleaseRequest(key: "key-\(index)", reason: index % 2 == 0 ? "yield" : "")
                        )
                        return (index, response.key)
                    }
                }
                var answers: [Int: String] = [:]
                for try await (index, key) in group { answers[index] = key }
                return answers
            }
            #expect(answers.count == 1_000)
            #expect(answers.allSatisfy { index, key in key == "key-\(index)" })
        }
    }

    @Test("answers posted from another thread in one batch of wake-ups reach every connection, each its own")
    func answersOfOneBatch() async throws {
        try await withTestServer { _, port in
            var connections: [RPCConnection] = []
            for _ in 0..<4 {
                connections.append(
                    try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
                )
            }
            defer { for connection in connections { Task { await connection.close() } } }
            let perConnection = TestService.Gathering.count / connections.count
            // A wake-up the batch failed to make would leave the calls to their deadline: they would fail, not hang.
            let answers = try await withThrowingTaskGroup(of: (String, ForceReleaseRequest).self) { group in
                for (number, connection) in connections.enumerated() {
                    for call in 0..<perConnection {
                        let key = "connection-\(number)-call-\(call)"
                        group.addTask {
                            let request = ForceReleaseRequest(key: key, reason: "")
                            return (key, try await connection.unary(TestService.gather, request, timeout: .seconds(60)))
                        }
                    }
                }
                var answers: [String: ForceReleaseRequest] = [:]
                for try await (key, answer) in group { answers[key] = answer }
                return answers
            }
            #expect(answers.count == TestService.Gathering.count)
            #expect(answers.allSatisfy { key, answer in answer.key == key })
            // All were answered in one batch, in the order they arrived.
            #expect(Set(answers.values.map(\.reason)) == Set((0..<TestService.Gathering.count).map { "\($0)" }))
        }
    }

    @Test("the raw client sees each answer under the call_id it chose, in any order")
    func rawCallIDs() async throws {
        try await withTestServer { _, port in
            let client = try await RawFrameClient(port: port)
            defer { Task { await client.close() } }
            #expect(try await client.hello()?.status?.code == .ok)
            let ids: [UInt64] = [7, 1 << 40, 3, UInt64.max]
            for id in ids {
                try await client.send(
                    Frame(
                        callID: id,
                        method: TestService.echo.name,
                        payload: ForceReleaseRequest(key: "\(id)", reason: "").encoded()
                    )
                )
            }
            var seen: [UInt64: String] = [:]
            for _ in ids {
                let frame = try #require(await client.next())
                #expect(frame.status?.code == .ok)
                seen[frame.callID] = try ForceReleaseRequest(decoding: frame.payload).key
            }
            #expect(seen == Dictionary(uniqueKeysWithValues: ids.map { ($0, "\($0)") }))
        }
    }

    @Test("CANCEL ends the call with CANCELLED and cancels its handler")
    func cancel() async throws {
        let service = TestService()
        try await withTestServer(service: service) { _, port in
            let client = try await RawFrameClient(port: port)
            defer { Task { await client.close() } }
            _ = try await client.hello()
            try await client.send(Frame(callID: 5, method: TestService.hang.name, payload: Empty().encoded()))
            try await client.send(.cancel(callID: 5))
            let frame = try #require(await client.next())
            #expect(frame.callID == 5)
            #expect(frame.status?.code == .cancelled)
            // The connection keeps serving other calls.
            try await client.send(
                Frame(
                    callID: 6,
                    method: TestService.echo.name,
                    payload: ForceReleaseRequest(key: "after", reason: "").encoded()
                )
            )
            let after = try #require(await client.next())
            #expect(after.callID == 6 && after.status?.code == .ok)
            #expect(service.cancellations.count == 1)
        }
    }

    @Test("a cancelled task in the client library sends CANCEL")
    func clientCancel() async throws {
        let service = TestService()
        try await withTestServer(service: service) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            defer { Task { await connection.close() } }
            let call = Task { () -> Empty in try await connection.unary(TestService.hang, Empty()) }
            // Wait until the server runs the handler, then cancel the client's task.
            #expect(await eventually { service.cancellations.started == 1 })
            call.cancel()
            await #expect(throws: CancellationError.self) { try await call.value }
            #expect(await eventually { service.cancellations.count == 1 })
            // The same connection still answers.
            let echo: ForceReleaseRequest = try await connection.unary(
                TestService.echo,
                ForceReleaseRequest(key: "k", reason: "")
            )
            #expect(echo.key == "k")
        }
    }

    @Test("an unknown method gets UNIMPLEMENTED")
    func unknownMethod() async throws {
        try await withTestServer { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            defer { Task { await connection.close() } }
            await #expect(throws: LeaseholdError.self) {
                let _: Empty = try await connection.unary(TestService.unknown, Empty())
            }
            do {
                let _: Empty = try await connection.unary(TestService.unknown, Empty())
            } catch let error as LeaseholdError {
                #expect(error.code == .unimplemented)
            }
        }
    }

    @Test("a call before Hello gets UNAUTHENTICATED; after Hello it works")
    func callBeforeHello() async throws {
        try await withTestServer { _, port in
            let client = try await RawFrameClient(port: port)
            defer { Task { await client.close() } }
            try await client.send(
                Frame(
                    callID: 9,
                    method: TestService.echo.name,
                    payload: ForceReleaseRequest(key: "k", reason: "").encoded()
                )
            )
            let refused = try #require(await client.next())
            #expect(refused.callID == 9 && refused.status?.code == .unauthenticated)
            #expect(try await client.hello()?.status?.code == .ok)
            try await client.send(
                Frame(
                    callID: 10,
                    method: TestService.echo.name,
                    payload: ForceReleaseRequest(key: "k", reason: "").encoded()
                )
            )
            #expect(await client.next()?.status?.code == .ok)
        }
    }

    @Test("Hello with another protocol version gets UNSUPPORTED_PROTOCOL")
    func protocolVersion() async throws {
        try await withTestServer { _, port in
            let client = try await RawFrameClient(port: port)
            defer { Task { await client.close() } }
            let answer = try #require(try await client.hello(version: 2))
            #expect(answer.status?.code == .unsupportedProtocol)
        }
    }

    @Test("with an auth file, a bad or missing token is refused and a good one maps to its principal")
    func authentication() async throws {
        let digest = Authenticator.digest(of: "ops-token")
        let file = #"{"tokens": [{"principal": "ops", "sha256": "\#(digest)", "roles": ["admin"]}]}"#
        let authenticator = try Authenticator(authFileContents: Data(file.utf8))
        try await withTestServer(authenticator: authenticator) { _, port in
            for token in ["", "wrong"] {
                await #expect(
                    throws: LeaseholdError(
                        code: .unauthenticated,
                        message: token.isEmpty ? "a token is required" : "unknown token"
                    )
                ) {
                    _ = try await RPCConnection.connect(
                        host: "127.0.0.1",
                        port: port,
                        hello: HelloRequest(token: token)
                    )
                }
            }
            let connection = try await RPCConnection.connect(
                host: "127.0.0.1",
                port: port,
                hello: HelloRequest(token: "ops-token")
            )
            defer { Task { await connection.close() } }
            #expect(connection.hello.principal == "ops")
            #expect(connection.hello.roles == ["admin"])
            let echo: ForceReleaseRequest = try await connection.unary(
                TestService.echo,
                ForceReleaseRequest(key: "k", reason: "")
            )
            #expect(echo.reason == "ops")
        }
    }

    @Test("a header announcing 2 GiB gets a connection-level FRAME_TOO_LARGE, then the connection closes")
    func frameTooLarge() async throws {
        try await withTestServer { _, port in
            let client = try await RawFrameClient(port: port)
            defer { Task { await client.close() } }
            try await client.sendRaw([0x80, 0x00, 0x00, 0x00])
            let frame = try #require(await client.next())
            #expect(frame.callID == 0)
            #expect(frame.status?.code == .frameTooLarge)
            #expect(await client.next() == nil)  // closed
        }
    }

    @Test("a frame that does not decode gets a connection-level INVALID_ARGUMENT, then the connection closes")
    func malformedFrame() async throws {
        try await withTestServer { _, port in
            let client = try await RawFrameClient(port: port)
            defer { Task { await client.close() } }
            try await client.sendRaw([0x00, 0x00, 0x00, 0x03, 0xFF, 0xFF, 0xFF])
            let frame = try #require(await client.next())
            #expect(frame.callID == 0)
            #expect(frame.status?.code == .invalidArgument)
            #expect(await client.next() == nil)
        }
    }

    @Test("a request payload that does not decode fails only that call")
    func malformedPayload() async throws {
        try await withTestServer { _, port in
            let client = try await RawFrameClient(port: port)
            defer { Task { await client.close() } }
            _ = try await client.hello()
            try await client.send(
                Frame(callID: 3, method: TestService.echo.name, payload: ByteBuffer(bytes: [0xFF, 0xFF]))
            )
            #expect(await client.next()?.status?.code == .invalidArgument)
            try await client.send(
                Frame(
                    callID: 4,
                    method: TestService.echo.name,
                    payload: ForceReleaseRequest(key: "k", reason: "").encoded()
                )
            )
            #expect(await client.next()?.status?.code == .ok)
        }
    }

    @Test("server streams deliver every item in order, then OK")
    func streaming() async throws {
        try await withTestServer { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            defer { Task { await connection.close() } }
            var revisions: [UInt64] = []
            for try await item in connection.serverStream(TestService.count, ListRequest(prefix: "", limit: 500)) {
                revisions.append(item.revision)
            }
            #expect(revisions == Array(0..<500))
        }
    }

    @Test("calls chained from unaryFuture callbacks run on the loop; errors fail the future")
    func futureCalls() async throws {
        try await withTestServer { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            // 200 calls, each started from the callback of the previous answer on the connection's event loop.
            let keys = try await connection.eventLoop.flatSubmit { () -> EventLoopFuture<[String]> in
                func call(_ index: Int, _ keys: [String]) -> EventLoopFuture<[String]> {
                    guard index < 200 else { return connection.eventLoop.makeSucceededFuture(keys) }
                    let answer: EventLoopFuture<ForceReleaseRequest> = connection.unaryFuture(
                        TestService.echo,
                        ForceReleaseRequest(key: "key-\(index)", reason: "")
                    )
                    return answer.assumeIsolated().flatMap { response in
                        connection.eventLoop.preconditionInEventLoop()
                        return call(index + 1, keys + [response.key])
                    }.nonisolated()
                }
                return call(0, [])
            }.get()
            #expect(keys == (0..<200).map { "key-\($0)" })

            let unknown: EventLoopFuture<Empty> = connection.unaryFuture(TestService.unknown, Empty())
            await #expect(throws: LeaseholdError.self) { try await unknown.get() }
            do {
                _ = try await unknown.get()
            } catch let error as LeaseholdError {
                #expect(error.code == .unimplemented)
            }

            await connection.close()
            let closed: EventLoopFuture<Empty> = connection.unaryFuture(TestService.echoWithWrongRequest, Empty())
            do {
                _ = try await closed.get()
                Issue.record("a call on a closed connection succeeded")
            } catch let error as LeaseholdError {
                #expect(error.code == .unavailable)
            }
        }
    }

    @Test(
        "a server that never answers: the client's own deadline ends the call, async and future alike",
        .timeLimit(.minutes(1))
    )
    func clientDeadline() async throws {
        // Answers Hello, then reads and ignores every frame, so only the client's timer can end a call.
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameLength: 1 << 20)))
                    try sync.addHandler(MessageToByteHandler(FrameEncoder()))
                    try sync.addHandler(SilentAfterHello())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
        func expectNoAnswer(_ call: () async throws -> Empty) async {
            do {
                _ = try await call()
                Issue.record("a silent server answered")
            } catch let error as LeaseholdError {
                #expect(error.code == .deadlineExceeded)
                #expect(error.cause is NoAnswerWithinDeadline)
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        await expectNoAnswer {
            try await connection.unary(TestService.echoWithWrongRequest, Empty(), timeout: .milliseconds(100))
        }
        await expectNoAnswer {
            try await connection.unaryFuture(TestService.echoWithWrongRequest, Empty(), timeout: .milliseconds(100))
                .get()
        }
        await connection.close()
        try await server.close()
    }

    @Test("callback server streams hand over every item in order on the loop, then end with nil; cancel ends them")
    func callbackStreams() async throws {
        try await withTestServer { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            defer { Task { await connection.close() } }
            let received = NIOLockedValueBox<[UInt64]>([])
            let ended = connection.eventLoop.makePromise(of: Void.self)
            _ = connection.serverStream(
                TestService.count,
                ListRequest(prefix: "", limit: 500),
                onItem: { item in
                    connection.eventLoop.preconditionInEventLoop()
                    received.withLockedValue { $0.append(item.revision) }
                },
                onEnd: { error in
                    if let error { ended.fail(error) } else { ended.succeed() }
                }
            )
            try await ended.futureResult.get()
            #expect(received.withLockedValue { $0 } == Array(0..<500))

            // A stream that never ends by itself ends with CancellationError once cancelled.
            let flooded = NIOLockedValueBox(0)
            let floodEnded = connection.eventLoop.makePromise(of: Void.self)
            let cancel = connection.serverStream(
                TestService.flood,
                Empty(),
                onItem: { _ in flooded.withLockedValue { $0 += 1 } },
                onEnd: { error in
                    if let error { floodEnded.fail(error) } else { floodEnded.succeed() }
                }
            )
            while flooded.withLockedValue({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(5)) }
            cancel()
            await #expect(throws: CancellationError.self) { try await floodEnded.futureResult.get() }
        }
    }

    @Test("a client that never reads its stream is cut off at a stated bound; the server's buffer stays bounded")
    func slowReader() async throws {
        let service = TestService()
        var limits = RPCServer.Limits()
        limits.maxBufferedBytesPerStream = 256 << 10
        limits.socketSendBufferBytes = 64 << 10
        try await withTestServer(service: service, limits: limits) { _, port in
            let client = try await RawFrameClient(port: port, autoRead: false, receiveBuffer: 16 << 10)
            defer { Task { await client.close() } }
            // Hello by hand, reading exactly one frame.
            client.channel.read()
            #expect(try await client.hello()?.status?.code == .ok)
            try await client.send(Frame(callID: 2, method: TestService.flood.name, payload: Empty().encoded()))
            // The stream is ended by the server while the client reads nothing: its handler returns.
            try await eventually(within: .seconds(20), "the flood's stream to be ended") {
                service.floodsEnded.count == 1
            }
            let sent = service.floodSent.count
            // Bound: the stream buffer (256 KiB) plus the kernel's socket buffers: the server's send buffer (64 KiB,
            // which Linux doubles) and the client's receive buffer (16 KiB, doubled), with 1 MiB of slack.
            let itemBytes = 1_040
            let bound = (256 << 10) + 2 * (64 << 10) + 2 * (16 << 10) + (1 << 20)
            #expect(sent * itemBytes < bound, "sent \(sent) items of \(itemBytes) bytes; bound \(bound) bytes")
            #expect(sent < 2_000_000)
            // Now read: the items, then RESOURCE_EXHAUSTED.
            try await client.channel.setOption(.autoRead, value: true).get()
            var status: Status?
            while status == nil, let frame = await client.next() {
                status = frame.callID == 2 ? frame.status : nil
            }
            #expect(status?.code == .resourceExhausted)
        }
    }
}

/// A server end that answers `Hello` and nothing else.
private final class SilentAfterHello: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        guard frame.method == LeaseholdMethod.hello.name else { return }
        let hello = HelloResponse(
            serverVersion: "silent",
            serverID: "silent",
            protocolVersion: 1,
            maxFrameBytes: 1 << 20,
            principal: "",
            roles: []
        )
        context.writeAndFlush(
            Self.wrapOutboundOut(Frame(callID: frame.callID, payload: hello.encoded(), status: .ok)),
            promise: nil
        )
    }
}
