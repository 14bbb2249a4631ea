import LeaseholdWire
import NIOCore
import Synchronization
import Testing

@testable import LeaseholdRPC

/// Records every call it is told of, as (method index, code).
private final class CallRecorder: RPCCallObserver {
    let methodNames: [String]
    private let calls = Mutex<[Call]>([])

    struct Call: Hashable, CustomStringConvertible {
        var method: Int
        var code: LeaseholdError.Code
        var description: String { "(\(self.method), \(self.code))" }
    }

    init(methodNames: [String]) { self.methodNames = methodNames }

    func callEnded(method: Int, code: LeaseholdError.Code, duration: Duration) {
        self.calls.withLock { $0.append(Call(method: method, code: code)) }
    }

    var all: [Call] { self.calls.withLock { $0 } }
}

@Suite("The call observer is told each call's method as an index into the names it counts")
struct CallObserverTests {
    @Test("named methods by their index; unknown, empty and served-but-unnamed ones as the count of names")
    func methodIndices() async throws {
        // Echo is served and named; Count is served and not named; the second name is not served.
        let recorder = CallRecorder(
            methodNames: [LeaseholdMethod.hello.name, "never.Served/Nothing", TestService.echo.name]
        )
        let other = 3
        try await withTestServer(observer: recorder) { _, port in
            let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, hello: HelloRequest())
            defer { Task { await connection.close() } }
            #expect(recorder.all == [.init(method: 0, code: .ok)])

            let echoed = try await connection.unary(TestService.echo, ForceReleaseRequest(key: "k", reason: ""))
            #expect(echoed.key == "k")
            var items = 0
            for try await _ in connection.serverStream(TestService.count, ListRequest(prefix: "", limit: 2)) {
                items += 1
            }
            #expect(items == 2)
            await #expect(throws: LeaseholdError.self) {
                _ = try await connection.unary(TestService.unknown, Empty())
            }
            #expect(
                recorder.all.dropFirst() == [
                    .init(method: 2, code: .ok), .init(method: other, code: .ok),
                    .init(method: other, code: .unimplemented),
                ]
            )

            // Refused calls count too: a named method before Hello, by its index; a call with no method, as other.
            let raw = try await RawFrameClient(port: port)
            defer { Task { await raw.close() } }
            try await raw.send(Frame(callID: 1, method: TestService.echo.name, payload: Empty().encoded()))
            #expect(await raw.next()?.status?.code == .unauthenticated)
            let hello = try await raw.hello()
            #expect(hello?.status?.code == .ok)
            try await raw.send(Frame(callID: 2, payload: Empty().encoded()))
            #expect(await raw.next()?.status?.code == .unimplemented)
            #expect(
                recorder.all.dropFirst(4) == [
                    .init(method: 2, code: .unauthenticated), .init(method: 0, code: .ok),
                    .init(method: other, code: .unimplemented),
                ]
            )
        }
    }
}
