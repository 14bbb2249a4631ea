import LeaseholdClient
import LeaseholdCore
import LeaseholdRPC
import LeaseholdServer
import LeaseholdTestSupport
import LeaseholdWire
import NIOCore
import Testing

/// Protobuf fields written by hand, so that a request can carry bytes no Swift encoder would produce.
private func field(_ number: UInt64, _ bytes: [UInt8]) -> [UInt8] {
    varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes
}

private func field(_ number: UInt64, varint value: UInt64) -> [UInt8] { varint(number << 3) + varint(value) }

private func varint(_ value: UInt64) -> [UInt8] {
    var value = value
    var out: [UInt8] = []
    while value >= 0x80 {
        out.append(UInt8(value & 0x7F) | 0x80)
        value >>= 7
    }
    return out + [UInt8(value)]
}

@Suite("Exact keys over the wire")
struct ExactKeyTests {
    /// Opens a session over `client` as call 2 and returns its id.
    private func openSession(_ client: RawSocketClient) async throws -> UInt64 {
        try await client.send(
            Frame(
                callID: 2,
                method: LeaseholdMethod.openSession.name,
                payload: OpenSessionRequest(name: "raw").encoded()
            )
        )
        let answer = try #require(try await client.status(of: 2))
        return try SessionInfo(decoding: answer.payload).sessionID.rawValue
    }

    @Test("Acquire(\"a\\0b\") is refused with INVALID_ARGUMENT naming the key, and locks nothing")
    func nulInKey() async throws {
        try await withLeaseholdServer { _, configuration in
            let raw = try await RawSocketClient.connect(port: configuration.port)
            defer { Task { await raw.close() } }
            #expect(try await raw.hello()?.code == .ok)
            let session = try await self.openSession(raw)
            let payload = field(1, varint: session) + field(2, [0x61, 0x00, 0x62])
            try await raw.send(
                Frame(callID: 3, method: LeaseholdMethod.acquire.name, payload: ByteBuffer(bytes: payload))
            )
            let status = try #require(try await raw.status(of: 3)?.status)
            #expect(status.code == .invalidArgument)
            #expect(status.message.contains("key"))
            #expect(status.message.contains("NUL"))

            // The bytes before the NUL name a free key, and the connection still serves.
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            #expect(try await client.describe("a").lock == nil)
            #expect(try await client.list(prefix: "").locks.isEmpty)
            #expect(raw.isActive)
        }
    }

    @Test("a NUL or invalid UTF-8 in any text field of a request is INVALID_ARGUMENT naming that field")
    func everyRequestField() async throws {
        typealias Case = (method: String, field: String, payload: (UInt64, [UInt8]) -> [UInt8])
        let cases: [Case] = [
            (LeaseholdMethod.openSession.name, "name", { _, bad in field(2, bad) }),
            (LeaseholdMethod.acquire.name, "key", { session, bad in field(1, varint: session) + field(2, bad) }),
            (LeaseholdMethod.release.name, "key", { session, bad in field(1, varint: session) + field(2, bad) }),
            (LeaseholdMethod.forceRelease.name, "key", { _, bad in field(1, bad) }),
            (LeaseholdMethod.forceRelease.name, "reason", { _, bad in field(1, Array("k".utf8)) + field(2, bad) }),
            (LeaseholdMethod.describe.name, "key", { _, bad in field(1, bad) }),
            (LeaseholdMethod.validate.name, "key", { _, bad in field(1, bad) }),
            (LeaseholdMethod.list.name, "prefix", { _, bad in field(1, bad) }),
            (LeaseholdMethod.watch.name, "prefix", { _, bad in field(1, bad) }),
        ]
        try await withLeaseholdServer { _, configuration in
            let raw = try await RawSocketClient.connect(port: configuration.port)
            defer { Task { await raw.close() } }
            #expect(try await raw.hello()?.code == .ok)
            let session = try await self.openSession(raw)
            var callID: UInt64 = 10
            for testCase in cases {
                for bad: [UInt8] in [[0x6A, 0x00], [0x6A, 0xFF]] {
                    callID += 1
                    let payload = ByteBuffer(bytes: testCase.payload(session, bad))
                    try await raw.send(Frame(callID: callID, method: testCase.method, payload: payload))
                    let status = try #require(try await raw.status(of: callID)?.status)
                    #expect(status.code == .invalidArgument, "\(testCase.method) \(testCase.field) \(bad)")
                    #expect(status.message.hasPrefix("invalid \(testCase.field):"), "\(status.message)")
                }
            }
        }
    }

    @Test("Hello with a NUL in its token is INVALID_ARGUMENT, not a shorter token")
    func helloToken() async throws {
        try await withLeaseholdServer { _, configuration in
            let raw = try await RawSocketClient.connect(port: configuration.port)
            defer { Task { await raw.close() } }
            let payload = field(1, varint: 1) + field(3, Array("secret".utf8) + [0, 0x78])
            try await raw.send(
                Frame(callID: 1, method: LeaseholdMethod.hello.name, payload: ByteBuffer(bytes: payload))
            )
            let status = try #require(try await raw.status(of: 1)?.status)
            #expect(status.code == .invalidArgument)
            #expect(status.message.hasPrefix("invalid token:"))
        }
    }

    @Test("a method name with a NUL is not read as the name before it: the connection is refused")
    func methodWithNUL() async throws {
        try await withLeaseholdServer { _, configuration in
            let raw = try await RawSocketClient.connect(port: configuration.port)
            defer { Task { await raw.close() } }
            #expect(try await raw.hello()?.code == .ok)
            // call_id 5, method "…/Describe\0x", payload DescribeRequest{key: "k"}, built by hand.
            let body =
                field(1, varint: 5) + field(2, Array(LeaseholdMethod.describe.name.utf8) + [0, 0x78])
                + field(3, field(1, Array("k".utf8)))
            let length = UInt32(body.count)
            try await raw.send(bytes: withUnsafeBytes(of: length.bigEndian, Array.init) + body)
            let goodbye = try #require(try await raw.next())
            #expect(goodbye.callID == 0)
            #expect(goodbye.status?.code == .invalidArgument)
            #expect(goodbye.status?.message.contains("method") == true)
            try await raw.waitUntilClosed()
        }
    }

    @Test("session names, reasons and prefixes past their bounds are INVALID_ARGUMENT naming the field and limit")
    func textBounds() async throws {
        try await withLeaseholdServer(configure: { $0.textLimits.maxSessionNameBytes = 8 }) { _, configuration in
            let connection = try await RPCConnection.connect(
                host: configuration.host,
                port: configuration.port,
                hello: HelloRequest()
            )
            defer { Task { await connection.close() } }
            let fits: SessionInfo = try await connection.unary(
                LeaseholdMethod.openSession,
                OpenSessionRequest(name: "12345678")
            )
            #expect(fits.sessionID.rawValue > 0)
            let name = await leaseholdError {
                let _: SessionInfo = try await connection.unary(
                    LeaseholdMethod.openSession,
                    OpenSessionRequest(name: "123456789")
                )
            }
            #expect(name?.code == .invalidArgument)
            #expect(name?.message == "name is 9 bytes, more than the limit of 8")
            let reason = await leaseholdError {
                let _: ForceReleaseResponse = try await connection.unary(
                    LeaseholdMethod.forceRelease,
                    ForceReleaseRequest(key: "k", reason: String(repeating: "r", count: 1_025))
                )
            }
            #expect(reason?.code == .invalidArgument)
            #expect(reason?.message.hasPrefix("reason is 1025 bytes") == true)
            let prefix = await leaseholdError {
                let _: ListResponse = try await connection.unary(
                    LeaseholdMethod.list,
                    ListRequest(prefix: String(repeating: "p", count: 513))
                )
            }
            #expect(prefix?.code == .invalidArgument)
            #expect(prefix?.message.hasPrefix("prefix is 513 bytes") == true)
            var watch = connection.serverStream(
                LeaseholdMethod.watch,
                WatchRequest(prefix: String(repeating: "p", count: 513), startRevision: 0)
            )
            .makeAsyncIterator()
            let watchError = await leaseholdError { _ = try await watch.next() }
            #expect(watchError?.code == .invalidArgument)
        }
    }

    @Test("keys that differ only after a point name different locks")
    func distinctKeys() async throws {
        try await withLeaseholdServer { _, configuration in
            let client = try await LeaseholdClient.connect(configuration)
            defer { Task { await client.close() } }
            let session = try await client.openSession(ttl: .seconds(30))
            let first = try await session.acquire("jobs/1", wait: .zero)
            let second = try await session.acquire("jobs/1é", wait: .zero)
            #expect(first.fencingToken != second.fencingToken)
            #expect(Set(try await client.list(prefix: "jobs/").locks.map(\.key)) == ["jobs/1", "jobs/1é"])
        }
    }
}
