import FencedResource
import FencedResourceWire
import LeaseholdClient
import LeaseholdTestSupport
import LeaseholdWire
import Testing

@Suite("FencedResource validating tokens with a real lock server")
struct LockValidationTests {
    @Test("the current holder's token is accepted; once released, a new token is refused though nobody wrote since")
    func releasedTokenRefused() async throws {
        try await withLeaseholdServer { _, configuration in
            let lockClient = try await LeaseholdClient.connect(configuration)
            defer { Task { await lockClient.close() } }
            let session = try await lockClient.openSession(ttl: .seconds(10))
            try await withFencedResource(validator: lockClient) { server in
                let first = try await session.acquire("jobs/1", wait: .zero)
                let written = try await server.client.write(
                    "report",
                    data: .utf8("first"),
                    fencingToken: first.fencingToken,
                    lockKey: "jobs/1"
                )
                #expect(written == FencedWriteResponse(version: 1, acceptedToken: first.fencingToken))
                try await first.release()

                // A later grant, released before its holder writes: its token is higher than any the resource has
                // seen, and no newer holder has written, yet the lock server says it is not current.
                let second = try await session.acquire("jobs/1", wait: .zero)
                try await second.release()
                #expect(second.fencingToken > first.fencingToken)
                let error = try await #require(throws: LeaseholdError.self) {
                    try await server.client.write(
                        "report",
                        data: .utf8("late"),
                        fencingToken: second.fencingToken,
                        lockKey: "jobs/1"
                    )
                }
                #expect(error.code == .staleFencingToken)
                #expect(error.highestToken == first.fencingToken)
                #expect(
                    try await server.client.read("report")
                        == FencedReadResponse(
                            data: .utf8("first"),
                            version: 1,
                            highestToken: first.fencingToken
                        )
                )
            }
            try await session.close()
        }
    }

    @Test("a released token is refused on a resource that has never been written")
    func releasedTokenOnNewResource() async throws {
        try await withLeaseholdServer { _, configuration in
            let lockClient = try await LeaseholdClient.connect(configuration)
            defer { Task { await lockClient.close() } }
            let session = try await lockClient.openSession(ttl: .seconds(10))
            try await withFencedResource(validator: lockClient) { server in
                let lock = try await session.acquire("jobs/2", wait: .zero)
                try await lock.release()
                let error = try await #require(throws: LeaseholdError.self) {
                    try await server.client.write("fresh", data: [], fencingToken: lock.fencingToken, lockKey: "jobs/2")
                }
                #expect(error.code == .staleFencingToken)
                #expect(error.highestToken == 0)
                await #expect(throws: LeaseholdError.self) { try await server.client.read("fresh") }
            }
            try await session.close()
        }
    }

    @Test("a token presented with another key than it was granted on is refused")
    func wrongKey() async throws {
        try await withLeaseholdServer { _, configuration in
            let lockClient = try await LeaseholdClient.connect(configuration)
            defer { Task { await lockClient.close() } }
            let session = try await lockClient.openSession(ttl: .seconds(10))
            try await withFencedResource(validator: lockClient) { server in
                let lock = try await session.acquire("jobs/3", wait: .zero)
                let error = try await #require(throws: LeaseholdError.self) {
                    try await server.client.write("r", data: [], fencingToken: lock.fencingToken, lockKey: "jobs/other")
                }
                #expect(error.code == .staleFencingToken)
                try await server.client.write("r", data: [], fencingToken: lock.fencingToken, lockKey: "jobs/3")
            }
            try await session.close()
        }
    }

    @Test("with a lock server, an empty lock key is INVALID_ARGUMENT")
    func emptyLockKey() async throws {
        try await withFencedResource(validator: ClosureTokenValidator { _, _ in true }) { server in
            let error = try await #require(throws: LeaseholdError.self) {
                try await server.client.write("r", data: [], fencingToken: 1, lockKey: "")
            }
            #expect(error.code == .invalidArgument)
        }
    }

    @Test("a lock server that cannot be reached makes new tokens fail with UNAVAILABLE, never accepted")
    func unreachableLockServer() async throws {
        // Port 1 on loopback: nothing listens there, so every connection attempt is refused at once. The validator
        // keeps trying for its failover timeout, then answers UNAVAILABLE, before the write's own deadline.
        var configuration = LeaseholdClient.Configuration(host: "127.0.0.1", port: 1)
        configuration.failoverTimeout = .milliseconds(500)
        let validator = LockServerValidator(configuration: configuration)
        defer { Task { await validator.close() } }
        try await withFencedResource(validator: validator) { server in
            let error = try await #require(throws: LeaseholdError.self) {
                try await server.client.write("r", data: [], fencingToken: 1, lockKey: "k")
            }
            #expect(error.code == .unavailable)
            await #expect(throws: LeaseholdError.self) { try await server.client.read("r") }
        }
    }

    @Test("LockServerValidator connects on first use and answers like Validate")
    func lazyValidator() async throws {
        try await withLeaseholdServer { _, configuration in
            let validator = LockServerValidator(configuration: configuration)
            defer { Task { await validator.close() } }
            let lockClient = try await LeaseholdClient.connect(configuration)
            defer { Task { await lockClient.close() } }
            let session = try await lockClient.openSession(ttl: .seconds(10))
            let lock = try await session.acquire("jobs/4", wait: .zero)
            #expect(try await validator.isCurrentGrant(lockKey: "jobs/4", fencingToken: lock.fencingToken))
            #expect(try await !validator.isCurrentGrant(lockKey: "jobs/4", fencingToken: lock.fencingToken + 1))
            try await lock.release()
            #expect(try await !validator.isCurrentGrant(lockKey: "jobs/4", fencingToken: lock.fencingToken))
            try await session.close()
        }
    }
}
