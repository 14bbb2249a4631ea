import LeaseholdTestSupport
import Testing

extension EndToEndTests {
    /// One server per data file: two would hand out the same locks from two copies of the state.
    @Suite("data file")
    struct DataFileTests {
        @Test("a second server on the same data file refuses to start, and the first one keeps serving")
        func secondServerRefused() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let data = directory.file("shared.db")
            let first = try await ServerProcess.start(.leasehold, data: data, log: directory.file("first.log"))
            defer { first.killIfRunning() }

            // The store waits up to 5 s for the file's lock before giving up.
            let second = try await leasehold(
                ["serve", "--listen", "127.0.0.1:0", "--data", data], in: directory, timeout: .seconds(30))
            #expect(second.status != 0)
            #expect(second.standardError.contains("in use by another process"), "stderr: \(second.standardError)")

            let run = try await leasehold(["lock", "jobs/1", "--server", first.address, "--", "true"], in: directory)
            #expect(run.status == 0, "stderr: \(run.standardError)")
            #expect(try await first.stop() == .exited(0))

            // Once the first has stopped, the file is free again: a new server opens it and serves from it. (Not
            // stopped with SIGTERM right after it listens: a signal in that window can still beat the service
            // group's handlers, a known race outside this test's subject.)
            let third = try await ServerProcess.start(.leasehold, data: data, log: directory.file("third.log"))
            defer { third.killIfRunning() }
            let again = try await leasehold(["lock", "jobs/1", "--server", third.address, "--", "true"], in: directory)
            #expect(again.status == 0, "stderr: \(again.standardError)")
        }
    }
}
