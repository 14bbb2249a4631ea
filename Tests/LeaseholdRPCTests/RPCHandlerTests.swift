import Foundation
import LeaseholdTestUtilities
import LeaseholdWire
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import LeaseholdRPC

@Suite("RPC connection handler on a testing channel")
struct RPCHandlerTests {
    private func makeChannel(service: TestService = TestService()) async throws -> NIOAsyncTestingChannel {
        let channel = try await serverHandlerChannel(service: service)
        try await channel.deliver(
            Frame(callID: 1, method: LeaseholdMethod.hello.name, payload: HelloRequest().encoded())
        )
        let hello = try await channel.waitForOutboundFrame()
        #expect(hello.status?.code == .ok)
        return channel
    }

    @Test("timeout_ms ends the call with DEADLINE_EXCEEDED at its deadline, not before")
    func deadline() async throws {
        let service = TestService()
        let channel = try await self.makeChannel(service: service)
        try await channel.deliver(
            Frame(callID: 2, method: TestService.hang.name, payload: Empty().encoded(), timeout: .milliseconds(250))
        )
        await channel.testingEventLoop.advanceTime(by: .milliseconds(249))
        #expect(try await channel.readOutboundFrame() == nil)
        await channel.testingEventLoop.advanceTime(by: .milliseconds(1))
        let frame = try await channel.waitForOutboundFrame()
        #expect(frame.callID == 2)
        #expect(frame.status?.code == .deadlineExceeded)
        _ = try? await channel.finish()
    }

    @Test("a closed connection's handler is freed, with a deadline and a call left open")
    func handlerFreedAfterClose() async throws {
        let handler = WeakReference()
        let loop: NIOAsyncTestingEventLoop
        do {
            let service = TestService()
            let channel = try await self.makeChannel(service: service)
            loop = channel.testingEventLoop
            try await channel.testingEventLoop.executeInContext {
                handler.object = try channel.pipeline.syncOperations.handler(type: ServerConnectionHandler.self)
            }
            try await channel.deliver(
                Frame(callID: 2, method: TestService.hang.name, payload: Empty().encoded(), timeout: .seconds(30))
            )
            await channel.testingEventLoop.run()
            #expect(handler.object != nil)
            _ = try? await channel.finish()
        }
        // The Hang call's task keeps the handler (through the loop's inbox it posts to) until it has seen its
        // cancellation and posted, and the loop has run that post; then nothing may hold it. A testing loop runs
        // only when told to, so the wait runs it.
        let freed = await eventually(timeout: .seconds(10)) {
            await loop.run()
            return handler.object == nil
        }
        #expect(freed, "the handler outlived its connection")
    }

    @Test("CANCEL of an unknown call is ignored; a reused open call_id closes the connection")
    func cancelUnknownAndReuse() async throws {
        let channel = try await self.makeChannel()
        try await channel.deliver(Frame.cancel(callID: 99))
        await channel.testingEventLoop.run()
        #expect(try await channel.readOutboundFrame() == nil)
        try await channel.deliver(Frame(callID: 3, method: TestService.hang.name, payload: Empty().encoded()))
        try await channel.deliver(Frame(callID: 3, method: TestService.hang.name, payload: Empty().encoded()))
        let frame = try await channel.waitForOutboundFrame()
        #expect(frame.callID == 0)
        #expect(frame.status?.code == .invalidArgument)
        _ = try? await channel.finish()
    }
}

@Suite("Wire compatibility")
struct RawClientTests {
    @Test("a Python client written from the spec alone can Hello and gets UNIMPLEMENTED for an unknown method")
    func pythonHello() async throws {
        try await withTestServer { _, port in
            let script = PackageRoot.path("Tests/RawClient/raw_hello.py")
            // Its output goes to a file, not a pipe: reading a pipe to its end would block a thread of the
            // cooperative pool.
            let directory = try TemporaryDirectory("raw-client")
            defer { directory.remove() }
            let outputPath = directory.file("stdout")
            let client = try Spawn.start(
                "/usr/bin/env",
                ["python3", script, String(port)],
                standardOutputPath: outputPath,
                standardErrorPath: directory.file("stderr")
            )
            defer { if client.termination == nil { kill(client.pid, SIGKILL) } }
            try await eventually(within: .seconds(30), "the raw client to exit") { client.termination != nil }
            let data = try Data(contentsOf: URL(fileURLWithPath: outputPath))
            let text = String(decoding: data, as: UTF8.self)
            #expect(client.termination == .exited(0), "raw client printed: \(text)")
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(json["principal"] as? String == "anonymous")
            #expect(json["max_frame_bytes"] as? Int == 1 << 20)
        }
    }
}

@Suite("Auth file")
struct AuthFileTests {
    @Test("digests are lowercase hex SHA-256")
    func digest() {
        #expect(Authenticator.digest(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test(
        "files that do not parse are refused with a message naming the problem",
        arguments: [
            ("{", "not valid JSON"),
            (#"{"tokens": [{"principal": "a"}]}"#, "missing \"sha256\" or \"cert_cn\""),
            (#"{"tokens": [{"principal": "a", "sha256": "ABC"}]}"#, "64 lowercase hex"),
            (#"{"nope": []}"#, "missing \"tokens\""),
            (
                #"{"tokens": [{"principal": "a", "sha256": "\#(String(repeating: "a", count: 64))", "cert_cn": "a"}]}"#,
                "both"
            ),
            (#"{"tokens": [{"principal": "a", "cert_cn": ""}]}"#, "cert_cn must not be empty"),
            (#"{"tokens": [{"principal": "a", "cert_cn": "x"}, {"principal": "b", "cert_cn": "x"}]}"#, "listed twice"),
        ]
    )
    func invalid(contents: String, expected: String) {
        do {
            _ = try Authenticator(authFileContents: Data(contents.utf8))
            Issue.record("accepted \(contents)")
        } catch let error as AuthFileError {
            #expect(error.message.contains(expected), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("a cert_cn entry names the principal of a client with no token whose certificate has that common name")
    func certificateCommonName() throws {
        let digest = Authenticator.digest(of: "s3cret")
        let authenticator = try Authenticator(
            authFileContents: Data(
                #"""
                {"tokens": [{"principal": "ops", "sha256": "\#(digest)", "roles": ["admin"]},
                            {"principal": "deployer", "cert_cn": "deploy.example", "roles": ["admin", "x"]}]}
                """#.utf8
            )
        )
        #expect(
            authenticator.authenticate(token: "", certificateCommonName: "deploy.example")
                == Principal(name: "deployer", roles: ["admin", "x"])
        )
        #expect(authenticator.authenticate(token: "", certificateCommonName: "other.example") == nil)
        #expect(authenticator.authenticate(token: "", certificateCommonName: nil) == nil)
        // A token decides alone: a wrong one is not rescued by a listed certificate.
        #expect(authenticator.authenticate(token: "wrong", certificateCommonName: "deploy.example") == nil)
        #expect(authenticator.authenticate(token: "s3cret", certificateCommonName: "deploy.example")?.name == "ops")
        // A common name never matches a token entry's principal name.
        #expect(authenticator.authenticate(token: "", certificateCommonName: "ops") == nil)
    }

    @Test("without an auth file every token is anonymous")
    func anonymous() {
        #expect(Authenticator.anonymous.authenticate(token: "anything") == .anonymous)
        #expect(Authenticator.anonymous.authenticate(token: "") == .anonymous)
    }
}

extension NIOAsyncTestingChannel {
    /// The handler writes length-prefixed frames, one buffer per flush: the next buffer's single frame, if any.
    func readOutboundFrame() async throws -> Frame? {
        guard var bytes = try await self.readOutbound(as: ByteBuffer.self) else { return nil }
        return try Self.onlyFrame(in: &bytes)
    }

    /// Waits for the next buffer written and decodes its single frame.
    func waitForOutboundFrame() async throws -> Frame {
        var bytes = try await self.waitForOutboundWrite(as: ByteBuffer.self)
        return try Self.onlyFrame(in: &bytes)
    }

    private static func onlyFrame(in bytes: inout ByteBuffer) throws -> Frame {
        var decoder = FrameDecoder()
        let frame = try #require(try decoder.decode(buffer: &bytes))
        #expect(bytes.readableBytes == 0, "one frame per flush expected here")
        return frame
    }

    /// Delivers a frame as one read burst from the socket would: `channelRead`, then `channelReadComplete`, where
    /// the handler flushes what the burst wrote.
    func deliver(_ frame: Frame) async throws {
        try await self.writeInbound(frame)
        self.pipeline.fireChannelReadComplete()
    }
}

/// A weak reference that can cross into the testing event loop.
final class WeakReference: @unchecked Sendable {
    weak var object: AnyObject?
}
