import FencedResource
import Foundation
import LeaseholdTestSupport
import LeaseholdWire
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("The built fenced-resource and fencing-demo executables")
struct ExecutableTests {
    /// Starts `fenced-resource serve` on port 0 and returns it with the port its log names.
    private func serve(data path: String) async throws -> (ChildProcess, Int) {
        let child = try ChildProcess("fenced-resource", ["serve", "--listen", "127.0.0.1:0", "--data", path])
        let port = try await child.waitForOutput(#"listening on 127\.0\.0\.1:(\d+)"#, timeout: .seconds(30))
        guard let port, let number = Int(port) else {
            child.signal(SIGKILL)
            _ = await child.waitForExit(timeout: .seconds(10))
            Issue.record("fenced-resource did not log its address: \(child.output)")
            throw MissingExecutable(path: "fenced-resource (no listening line)")
        }
        return (child, number)
    }

    @Test("the highest token survives a SIGKILL and a restart on the same file", .timeLimit(.minutes(1)))
    func survivesSIGKILL() async throws {
        let directory = try TemporaryDirectory("fenced-resource-kill")
        defer { directory.remove() }
        let path = directory.file("fenced.db")

        let (first, firstPort) = try await self.serve(data: path)
        let client = try await FencedResourceClient.connect(host: "127.0.0.1", port: firstPort)
        let written = try await client.write("orders/9", data: .utf8("five"), fencingToken: 5, lockKey: "")
        #expect(written.version == 1)
        await client.close()
        first.signal(SIGKILL)
        let status = await first.waitForExit(timeout: .seconds(10))
        #expect(status == SIGKILL)

        let (second, secondPort) = try await self.serve(data: path)
        let again = try await FencedResourceClient.connect(host: "127.0.0.1", port: secondPort)
        let error = try await #require(throws: LeaseholdError.self) {
            try await again.write("orders/9", data: .utf8("four"), fencingToken: 4, lockKey: "")
        }
        #expect(error.code == .staleFencingToken)
        #expect(error.highestToken == 5)
        #expect(try await again.read("orders/9") == FencedReadResponse(data: .utf8("five"), version: 1, highestToken: 5))
        await again.close()

        // SIGTERM is a graceful stop: the server logs it and exits 0.
        second.signal(SIGTERM)
        #expect(await second.waitForExit(timeout: .seconds(10)) == 0)
    }

    @Test("fencing-demo refuses A's stale write and exits 0", .timeLimit(.minutes(1)))
    func demo() async throws {
        let child = try ChildProcess("fencing-demo", [])
        let status = await child.waitForExit(timeout: .seconds(60))
        let output = child.output
        #expect(status == 0, "fencing-demo output:\n\(output)")
        #expect(output.contains("STALE_FENCING_TOKEN"))
        #expect(output.contains("REFUSED"))
        #expect(!output.contains("ACCEPTED ("))
    }
}
