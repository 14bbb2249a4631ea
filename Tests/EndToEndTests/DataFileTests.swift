import LeaseholdTestSupport
import LeaseholdTestUtilities
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
                ["serve", "--listen", "127.0.0.1:0", "--data", data],
                in: directory,
                timeout: .seconds(30)
            )
            // One line that says why, and the status of an unavailable resource, not a usage error.
            #expect(second.status == 69, "stderr: \(second.standardError)")
            #expect(
                second.standardError.contains("leasehold: cannot start: \(data) is in use by another process"),
                "stderr: \(second.standardError)"
            )
            #expect(!second.standardError.contains("Usage:"), "stderr: \(second.standardError)")

            let run = try await leasehold(["lock", "jobs/1", "--server", first.address, "--", "true"], in: directory)
            #expect(run.status == 0, "stderr: \(run.standardError)")
            #expect(try await first.stop() == .exited(0))

            // Once the first has stopped, the file is free again: a new server opens it and serves from it.
            let third = try await ServerProcess.start(.leasehold, data: data, log: directory.file("third.log"))
            defer { third.killIfRunning() }
            let again = try await leasehold(["lock", "jobs/1", "--server", third.address, "--", "true"], in: directory)
            #expect(again.status == 0, "stderr: \(again.standardError)")
            #expect(try await third.stop() == .exited(0))
        }

        @Test("SIGTERM sent as soon as serve says it listens stops it cleanly, every time (20 starts)")
        func signalRightAfterListening() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            for round in 0..<20 {
                let server = try await ServerProcess.start(
                    .leasehold,
                    data: directory.file("l.db"),
                    log: directory.file("\(round).log")
                )
                defer { server.killIfRunning() }
                let ended = try await server.stop()
                #expect(ended == .exited(0), "round \(round): \(ended); log: \(server.logTail)")
            }
        }

        @Test("a server whose address is taken says so in one line and exits 69; so does one whose metrics address is")
        func addressTaken() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let first = try await ServerProcess.start(
                .leasehold,
                data: directory.file("a.db"),
                log: directory.file("a.log")
            )
            defer { first.killIfRunning() }

            for (listen, metrics) in [(first.address, nil), ("127.0.0.1:0", first.address)] {
                let result = try await leasehold(
                    ["serve", "--listen", listen, "--data", directory.file("b.db")]
                        + (metrics.map { ["--metrics-listen", $0] } ?? []),
                    in: directory
                )
                #expect(result.status == 69, "stderr: \(result.standardError)")
                let lines = result.standardError.split(separator: "\n").filter { $0.hasPrefix("leasehold:") }
                #expect(
                    lines == ["leasehold: cannot start: cannot listen on \(first.address): Address already in use"],
                    "stderr: \(result.standardError)"
                )
                #expect(!result.standardError.contains("Usage:"), "stderr: \(result.standardError)")
            }
            #expect(try await first.stop() == .exited(0))
        }
    }
}
