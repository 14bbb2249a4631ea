import FencedResource
import FencedResourceWire
import LeaseholdRPC
import LeaseholdTestUtilities
import LeaseholdWire
import Testing

@Suite("FencedResource service over loopback")
struct FencedResourceServiceTests {
    @Test("a lower token is refused with STALE_FENCING_TOKEN and Status.highest_token; the data stays")
    func lowerRefused() async throws {
        try await withFencedResource { server in
            try await server.client.write("orders/1", data: .utf8("new"), fencingToken: 10, lockKey: "")
            let error = try await #require(throws: LeaseholdError.self) {
                try await server.client.write("orders/1", data: .utf8("old"), fencingToken: 9, lockKey: "")
            }
            #expect(error.code == .staleFencingToken)
            #expect(error.highestToken == 10)
            let read = try await server.client.read("orders/1")
            #expect(read == FencedReadResponse(data: .utf8("new"), version: 1, highestToken: 10))
        }
    }

    @Test("an equal token is accepted again and again, each write a new version")
    func equalAccepted() async throws {
        try await withFencedResource { server in
            for version in UInt64(1)...3 {
                let response = try await server.client.write(
                    "orders/1",
                    data: .utf8("v\(version)"),
                    fencingToken: 4,
                    lockKey: ""
                )
                #expect(response == FencedWriteResponse(version: version, acceptedToken: 4))
            }
            #expect(
                try await server.client.read("orders/1")
                    == FencedReadResponse(data: .utf8("v3"), version: 3, highestToken: 4)
            )
        }
    }

    @Test("a higher token is accepted and becomes the highest; the lower one is then refused")
    func higherAccepted() async throws {
        try await withFencedResource { server in
            try await server.client.write("orders/1", data: .utf8("a"), fencingToken: 3, lockKey: "")
            let response = try await server.client.write("orders/1", data: .utf8("b"), fencingToken: 8, lockKey: "")
            #expect(response == FencedWriteResponse(version: 2, acceptedToken: 8))
            #expect(
                try await server.client.read("orders/1")
                    == FencedReadResponse(data: .utf8("b"), version: 2, highestToken: 8)
            )
            let error = try await #require(throws: LeaseholdError.self) {
                try await server.client.write("orders/1", data: .utf8("a again"), fencingToken: 3, lockKey: "")
            }
            #expect(error.highestToken == 8)
        }
    }

    @Test("resources are fenced independently")
    func independentResources() async throws {
        try await withFencedResource { server in
            try await server.client.write("a", data: .utf8("a"), fencingToken: 100, lockKey: "")
            try await server.client.write("b", data: .utf8("b"), fencingToken: 1, lockKey: "")
            #expect(try await server.client.read("a").highestToken == 100)
            #expect(
                try await server.client.read("b") == FencedReadResponse(data: .utf8("b"), version: 1, highestToken: 1)
            )
        }
    }

    @Test("empty data and binary data round-trip")
    func binaryData() async throws {
        try await withFencedResource { server in
            try await server.client.write("empty", data: [], fencingToken: 1, lockKey: "")
            #expect(try await server.client.read("empty") == FencedReadResponse(data: [], version: 1, highestToken: 1))
            let bytes: [UInt8] = [0, 255, 1, 0, 128]
            try await server.client.write("bin", data: bytes, fencingToken: 1, lockKey: "")
            #expect(try await server.client.read("bin").data == bytes)
        }
    }

    @Test("reading an unknown resource is NOT_FOUND")
    func readUnknown() async throws {
        try await withFencedResource { server in
            let error = try await #require(throws: LeaseholdError.self) { try await server.client.read("nope") }
            #expect(error.code == .notFound)
        }
    }

    @Test("an empty resource name is INVALID_ARGUMENT for Write and Read")
    func emptyName() async throws {
        try await withFencedResource { server in
            let write = try await #require(throws: LeaseholdError.self) {
                try await server.client.write("", data: [], fencingToken: 1, lockKey: "")
            }
            #expect(write.code == .invalidArgument)
            let read = try await #require(throws: LeaseholdError.self) { try await server.client.read("") }
            #expect(read.code == .invalidArgument)
        }
    }

    @Test("the raw RPC connection sees the same service: Hello first, then Write and Read by method name")
    func rawConnection() async throws {
        try await withFencedResource { server in
            let connection = try await RPCConnection.connect(
                host: "127.0.0.1",
                port: server.port,
                hello: HelloRequest(clientName: "raw")
            )
            defer { Task { await connection.close() } }
            let written: FencedWriteResponse = try await connection.unary(
                FencedResourceMethod.write,
                FencedWriteRequest(resource: "raw", fencingToken: 2, data: .utf8("x"), lockKey: "k")
            )
            #expect(written == FencedWriteResponse(version: 1, acceptedToken: 2))
            let error = try await #require(throws: LeaseholdError.self) {
                let _: FencedWriteResponse = try await connection.unary(
                    FencedResourceMethod.write,
                    FencedWriteRequest(resource: "raw", fencingToken: 1, lockKey: "k")
                )
            }
            #expect(error.code == .staleFencingToken)
            #expect(error.highestToken == 2)
            let read: FencedReadResponse = try await connection.unary(
                FencedResourceMethod.read,
                FencedReadRequest(resource: "raw")
            )
            #expect(read == FencedReadResponse(data: .utf8("x"), version: 1, highestToken: 2))
        }
    }

    @Test("concurrent writers with distinct tokens: the highest wins and no refused writer's token beats it")
    func concurrentWriters() async throws {
        try await withFencedResource { server in
            let tokens = Array(UInt64(1)...40).shuffled()
            let outcomes = try await withThrowingTaskGroup(of: (UInt64, UInt64?).self) { group in
                for token in tokens {
                    group.addTask {
                        do {
                            let response = try await server.client.write(
                                "contended",
                                data: .utf8("\(token)"),
                                fencingToken: token,
                                lockKey: ""
                            )
                            return (token, response.version)
                        } catch let error as LeaseholdError where error.code == .staleFencingToken {
                            #expect(error.highestToken > token)
                            return (token, nil)
                        }
                    }
                }
                var outcomes: [(UInt64, UInt64?)] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            let accepted = outcomes.filter { $0.1 != nil }
            let read = try await server.client.read("contended")
            #expect(read.highestToken == 40)
            #expect(read.data == .utf8("40"))
            #expect(read.version == UInt64(accepted.count))
            // Versions are handed out one by one, in the order of the accepted tokens.
            let byVersion = accepted.sorted { $0.1! < $1.1! }.map(\.0)
            #expect(byVersion == byVersion.sorted())
            #expect(Set(accepted.compactMap(\.1)) == Set(UInt64(1)...UInt64(accepted.count)))
        }
    }

    @Test("a closed service and a reopened one: the file keeps data, version and highest token")
    func reopen() async throws {
        let directory = try TemporaryDirectory("fenced-resource")
        defer { directory.remove() }
        let path = directory.file("fenced.db")
        let logger = quietLogger()
        let first = try FencedResourceService(path: path, logger: logger)
        _ = try await first.write(FencedWriteRequest(resource: "r", fencingToken: 5, data: .utf8("kept"), lockKey: ""))
        await first.close()
        let closed = try await #require(throws: LeaseholdError.self) {
            try await first.read(FencedReadRequest(resource: "r"))
        }
        #expect(closed.code == .unavailable)

        let second = try FencedResourceService(path: path, logger: logger)
        #expect(
            try await second.read(FencedReadRequest(resource: "r"))
                == FencedReadResponse(data: .utf8("kept"), version: 1, highestToken: 5)
        )
        let error = try await #require(throws: LeaseholdError.self) {
            try await second.write(FencedWriteRequest(resource: "r", fencingToken: 4, lockKey: ""))
        }
        #expect(error.highestToken == 5)
        await second.close()
    }
}
