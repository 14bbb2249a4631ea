import Crypto
import Foundation
import LeaseholdWire
import NIOCore
import Testing

@testable import LeaseholdRPC

/// The connection's protocol logic fed events by hand, with no channel, no event loop and no clock.
@Suite("Call state machine")
struct CallStateMachineTests {
    private static let methods: [String: RPCMethod] = Dictionary(
        uniqueKeysWithValues: TestService().methods.map { ($0.name, $0) }
    )

    private static func machine(
        authenticator: Authenticator = .anonymous,
        maxConcurrentCalls: Int = 10
    ) -> CallStateMachine {
        CallStateMachine(
            methods: Self.methods,
            authenticator: authenticator,
            hello: {
                HelloResponse(serverVersion: "t", serverID: "t", maxFrameBytes: 1, principal: $0.name, roles: [])
            },
            maxConcurrentCalls: maxConcurrentCalls
        )
    }

    /// A machine past a successful `Hello`.
    private static func ready(maxConcurrentCalls: Int = 10) throws -> CallStateMachine {
        var machine = Self.machine(maxConcurrentCalls: maxConcurrentCalls)
        let answer = try #require(Self.reply(machine.receive(Self.hello())))
        #expect(answer.status?.code == .ok)
        return machine
    }

    private static func hello(token: String = "", version: UInt32 = LeaseholdMethod.protocolVersion) -> Frame {
        Frame(
            callID: 1,
            method: LeaseholdMethod.hello.name,
            payload: HelloRequest(protocolVersion: version, token: token).encoded()
        )
    }

    private static func call(_ callID: UInt64, _ method: String = TestService.hang.name) -> Frame {
        Frame(callID: callID, method: method, payload: Empty().encoded())
    }

    private static func reply(_ action: CallStateMachine.ReceiveAction) -> Frame? {
        if case .reply(let frame) = action { return frame }
        return nil
    }

    /// Receives a call that should start, and registers it as the handler would.
    private static func open(_ machine: inout CallStateMachine, _ callID: UInt64, deadline: CallDeadlines.Token? = nil)
    {
        guard case .start(let method, let frame, _) = machine.receive(Self.call(callID)) else {
            Issue.record("call \(callID) did not start")
            return
        }
        #expect(method.name == TestService.hang.name && frame.callID == callID)
        var call = CallStateMachine.OpenCall()
        call.deadline = deadline
        machine.opened(callID, call)
    }

    // MARK: - Hello

    @Test("calls before Hello get UNAUTHENTICATED; a wrong version gets UNSUPPORTED_PROTOCOL; Hello opens the gate")
    func helloGate() throws {
        var machine = Self.machine()
        #expect(Self.reply(machine.receive(Self.call(2)))?.status?.code == .unauthenticated)
        #expect(Self.reply(machine.receive(Self.hello(version: 9)))?.status?.code == .unsupportedProtocol)
        #expect(machine.principal == nil)
        let answer = try #require(Self.reply(machine.receive(Self.hello())))
        #expect(answer.status?.code == .ok)
        #expect(try HelloResponse(decoding: answer.payload).principal == "anonymous")
        #expect(machine.principal?.name == "anonymous")
        guard case .start = machine.receive(Self.call(2)) else {
            Issue.record("a call after Hello did not start")
            return
        }
    }

    @Test("with an auth file a missing or unknown token is refused, and the right one names its principal")
    func helloTokens() throws {
        let digest = SHA256.hash(data: Data("s3cret".utf8)).map { String(format: "%02x", $0) }.joined()
        let file = #"{"tokens": [{"principal": "ops", "sha256": "\#(digest)", "roles": ["admin"]}]}"#
        var machine = Self.machine(authenticator: try Authenticator(authFileContents: Data(file.utf8)))
        #expect(Self.reply(machine.receive(Self.hello()))?.status?.code == .unauthenticated)
        #expect(Self.reply(machine.receive(Self.hello(token: "wrong")))?.status?.code == .unauthenticated)
        #expect(machine.principal == nil)
        #expect(Self.reply(machine.receive(Self.hello(token: "s3cret")))?.status?.code == .ok)
        #expect(machine.principal == Principal(name: "ops", roles: ["admin"]))
    }

    @Test("a Hello that does not decode gets INVALID_ARGUMENT and leaves the gate shut")
    func helloMalformed() {
        var machine = Self.machine()
        let garbage = Frame(
            callID: 1,
            method: LeaseholdMethod.hello.name,
            payload: ByteBuffer(bytes: [0xFF, 0xFF, 0xFF])
        )
        #expect(Self.reply(machine.receive(garbage))?.status?.code == .invalidArgument)
        #expect(machine.principal == nil)
    }

    // MARK: - Calls

    @Test("unknown methods and first frames without a method get UNIMPLEMENTED; nothing opens")
    func unknownMethods() throws {
        var machine = try Self.ready()
        #expect(Self.reply(machine.receive(Self.call(2, "nope.Nope/Nothing")))?.status?.code == .unimplemented)
        #expect(Self.reply(machine.receive(Self.call(3, "")))?.status?.code == .unimplemented)
        #expect(machine.openCalls == 0)
    }

    @Test("a call decoded with the server's method names is routed by the decoder's index, not its name again")
    func routedByIndex() throws {
        let names = [LeaseholdMethod.hello.name] + Self.methods.keys.sorted()
        var machine = CallStateMachine(
            methods: Self.methods,
            methodNames: names,
            authenticator: .anonymous,
            hello: {
                HelloResponse(serverVersion: "t", serverID: "t", maxFrameBytes: 1, principal: $0.name, roles: [])
            },
            maxConcurrentCalls: 10
        )
        #expect(Self.reply(machine.receive(Self.hello()))?.status?.code == .ok)
        var encoded = ByteBuffer()
        Self.call(2, TestService.hang.name).encode(into: &encoded)
        let decoded = try Frame(decoding: encoded, knownMethods: names)
        #expect(decoded.knownMethodIndex == names.firstIndex(of: TestService.hang.name))
        guard case .start(let method, _, _) = machine.receive(decoded) else {
            Issue.record("the decoded call did not start")
            return
        }
        #expect(method.name == TestService.hang.name)
        // The index alone decides (the name is not looked up again): a frame that carries only the index starts.
        var indexOnly = Self.call(3, "")
        indexOnly.knownMethodIndex = names.firstIndex(of: TestService.hang.name)
        guard case .start(let byIndex, _, _) = machine.receive(indexOnly) else {
            Issue.record("the call carrying only an index did not start")
            return
        }
        #expect(byIndex.name == TestService.hang.name)
    }

    @Test("the per-connection call limit refuses the call past it with RESOURCE_EXHAUSTED")
    func callLimit() throws {
        var machine = try Self.ready(maxConcurrentCalls: 2)
        Self.open(&machine, 2)
        Self.open(&machine, 3)
        #expect(Self.reply(machine.receive(Self.call(4)))?.status?.code == .resourceExhausted)
        #expect(machine.openCalls == 2)
        // Once one ends, there is room again.
        _ = machine.completed(2, result: .success(ByteBuffer()))
        guard case .start = machine.receive(Self.call(4)) else {
            Issue.record("no room after a call ended")
            return
        }
    }

    @Test("CANCEL ends an open call with CANCELLED once; a later result or cancel is dropped")
    func cancel() throws {
        var machine = try Self.ready()
        Self.open(&machine, 2)
        guard case .end(let ending) = machine.receive(Frame(callID: 2, flags: .cancel)) else {
            Issue.record("CANCEL did not end the call")
            return
        }
        #expect(ending.callID == 2 && ending.status.code == .cancelled)
        guard case .none = machine.receive(Frame(callID: 2, flags: .cancel)) else {
            Issue.record("a second CANCEL did something")
            return
        }
        #expect(machine.completed(2, result: .success(ByteBuffer())) == nil)
        #expect(machine.openCalls == 0)
    }

    @Test("a handler's result ends its call: OK with the payload, or the error's status")
    func results() throws {
        var machine = try Self.ready()
        for callID: UInt64 in 2...5 { Self.open(&machine, callID) }
        let ok = machine.completed(2, result: .success(ByteBuffer(bytes: [1, 2])))
        #expect(ok?.status.code == .ok && ok?.payload == ByteBuffer(bytes: [1, 2]))
        let held = LeaseholdError(code: .lockHeld, message: "held")
        #expect(machine.completed(3, result: .failure(held))?.status.code == .lockHeld)
        #expect(machine.completed(4, result: .failure(CancellationError()))?.status.code == .cancelled)
        #expect(
            machine.completed(5, result: .failure(MalformedMessage(messageName: "x")))?.status.code == .invalidArgument
        )
    }

    @Test("a deadline ends its own call with DEADLINE_EXCEEDED, never a later call that reused the call_id")
    func deadlines() throws {
        var machine = try Self.ready()
        Self.open(&machine, 2, deadline: 7)
        #expect(machine.isOpen(2, token: 7))
        #expect(machine.deadlinePassed(2, token: 6) == nil)
        #expect(machine.deadlinePassed(2, token: 7)?.status.code == .deadlineExceeded)
        // The call_id is reused by a new call with another registration: the old deadline does not touch it.
        Self.open(&machine, 2, deadline: 8)
        #expect(machine.deadlinePassed(2, token: 7) == nil)
        #expect(machine.openCalls == 1)
    }

    @Test("a stream whose client does not read ends with RESOURCE_EXHAUSTED; its items are dropped after")
    func overflow() throws {
        var machine = try Self.ready()
        Self.open(&machine, 2)
        #expect(machine.streamItem(2) != nil)
        #expect(machine.overflowed(2, limit: 1024)?.status.code == .resourceExhausted)
        #expect(machine.streamItem(2) == nil)
    }

    // MARK: - Connection

    @Test("a call_id that is already open closes the connection with INVALID_ARGUMENT; then every frame is ignored")
    func duplicateCallID() throws {
        var machine = try Self.ready()
        Self.open(&machine, 2)
        Self.open(&machine, 3)
        guard case .close(let status, let ended) = machine.receive(Self.call(2)) else {
            Issue.record("a duplicate call_id did not close the connection")
            return
        }
        #expect(status.code == .invalidArgument)
        #expect(ended.count == 2)
        #expect(machine.isClosing)
        guard case .none = machine.receive(Self.call(9)) else {
            Issue.record("a frame after the close was acted on")
            return
        }
    }

    @Test("a frame too large closes with FRAME_TOO_LARGE; a transport error aborts without a frame")
    func decodingFailures() throws {
        var machine = try Self.ready()
        Self.open(&machine, 2)
        guard case .close(let status, let ended) = machine.decodingFailed(FrameTooLarge(length: 9, maximum: 8)) else {
            Issue.record("no close")
            return
        }
        #expect(status.code == .frameTooLarge && ended.count == 1)

        var other = try Self.ready()
        Self.open(&other, 2)
        guard case .abort(let aborted) = other.decodingFailed(CancellationError()) else {
            Issue.record("no abort")
            return
        }
        #expect(aborted.count == 1 && other.openCalls == 0)
    }

    @Test("shutdown ends every call with UNAVAILABLE and says so at connection level; then frames are ignored")
    func shutdown() throws {
        var machine = try Self.ready()
        Self.open(&machine, 2)
        Self.open(&machine, 3)
        let (endings, goodbye) = machine.shutdown()
        #expect(Set(endings.map(\.callID)) == [2, 3])
        #expect(endings.allSatisfy { $0.status.code == .unavailable })
        #expect(goodbye.code == .unavailable)
        guard case .none = machine.receive(Self.call(4)) else {
            Issue.record("a frame after shutdown was acted on")
            return
        }
    }

    @Test("reads wait while the peer does not read its answers, and resume once it does")
    func backpressure() {
        var machine = Self.machine()
        var reads: [Bool] = []
        reads.append(machine.readRequested(isWritable: true))
        reads.append(machine.writabilityChanged(isWritable: true))  // no read was held back
        reads.append(machine.readRequested(isWritable: false))
        reads.append(machine.writabilityChanged(isWritable: false))
        reads.append(machine.writabilityChanged(isWritable: true))
        reads.append(machine.writabilityChanged(isWritable: true))  // only once
        #expect(reads == [true, false, false, false, true, false])
    }
}

extension CallStateMachine.Ending: Equatable {
    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.callID == rhs.callID && lhs.status == rhs.status && lhs.payload == rhs.payload
    }
}
