import Foundation
import LeaseholdTestSupport
import LeaseholdTestUtilities
import Testing

extension EndToEndTests {
    /// `leasehold serve --log-format json --metrics-listen`, and `leasehold top` when stdout is not a terminal.
    @Suite("observability: JSON logs, metrics of a real server, top")
    struct ObservabilityTests {
        @Test(
            "JSON logs carry key, session, owner and token per grant and release at debug; /metrics counts them; top shows the holder"
        )
        func logsMetricsTop() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let server = try await ServerProcess.start(
                .leaseholdJSONLogs,
                in: directory,
                arguments: ["--log-format", "json", "--log-level", "debug", "--metrics-listen", "127.0.0.1:0"]
            )
            defer { server.killIfRunning() }
            let metricsPort = try await server.process.firstLine(within: .seconds(10), saying: "serving metrics") {
                $0.contains(#""message":"serving metrics""#) ? Self.port(in: $0) : nil
            }

            let run = try await leasehold(["lock", "jobs/1", "--server", server.address, "--", "true"], in: directory)
            #expect(run.status == 0)
            let holder = try ChildProcess(
                "leasehold",
                ["lock", "jobs/held", "--server", server.address, "--", "sleep", "30"],
                in: directory
            )
            defer { holder.killIfRunning() }
            #expect(
                try await eventually {
                    let status = try await leasehold(
                        ["status", "jobs/held", "--server", server.address],
                        in: directory
                    )
                    return status.standardOutput.contains("session")
                }
            )

            let top = try await leasehold(["top", "--iterations", "1", "--server", server.address], in: directory)
            #expect(top.status == 0, "stderr: \(top.standardError)")
            let lines = top.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.first?.hasPrefix("leasehold top  \(server.address)  prefix (all)  rev 3") == true, "\(lines)")
            #expect(lines.contains("LONGEST HELD"))
            #expect(
                lines.contains {
                    $0.hasPrefix("  jobs/held ") && $0.contains(" anonymous ") && $0.hasSuffix(" 3      10s")
                },
                "\(top.standardOutput)"
            )
            #expect(!top.standardOutput.contains("\u{1B}"), "no escape sequences when stdout is not a terminal")
            #expect(lines.contains("  (give --metrics-address, the server's --metrics-listen, to see them)"))

            // With the metrics endpoint, top reads GET /sessions: the holder's session, its name, TTL and key.
            let withSessions = try await leasehold(
                [
                    "top", "--iterations", "1", "--server", server.address, "--metrics-address",
                    "127.0.0.1:\(metricsPort)",
                ],
                in: directory
            )
            #expect(withSessions.status == 0, "stderr: \(withSessions.standardError)")
            let expiring = withSessions.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
                .drop { $0 != "SESSIONS CLOSE TO EXPIRY" }.dropFirst().prefix { !$0.isEmpty }
            #expect(expiring.first?.hasPrefix("  SESSION  OWNER      NAME") == true, "\(withSessions.standardOutput)")
            #expect(
                expiring.dropFirst().map {
                    $0.contains(" anonymous  leasehold lock jobs/held ") && $0.hasSuffix(" 10s  jobs/held")
                }
                    == [true],
                "\(withSessions.standardOutput)"
            )
            #expect(!withSessions.standardOutput.contains("\n! "), "no refresh problem: \(withSessions.standardOutput)")

            let scrape = try MetricsScrape.fetch(port: metricsPort)
            #expect(scrape["leasehold_grants_total"] == 2)
            #expect(scrape[#"leasehold_releases_total{cause="release"}"#] == 1)
            #expect(scrape["leasehold_locks_held"] == 1)
            #expect(try #require(scrape["process_open_fds"]) > 0)

            holder.send(SIGTERM)
            _ = try await holder.exitStatus()
            #expect(try await server.stop() == .exited(0))

            let objects = server.process.standardError.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]
            }
            #expect(objects.count == server.process.standardError.split(separator: "\n").count, "every line is JSON")
            let granted = objects.filter { $0["message"] == "lock granted" }
            #expect(granted.map { $0["key"] } == ["jobs/1", "jobs/held"])
            #expect(granted.allSatisfy { $0["level"] == "debug" && $0["owner"] == "anonymous" && $0["session"] != nil })
            #expect(granted.map { $0["token"] } == ["1", "3"])
            let released = objects.filter { $0["message"] == "lock released" }
            #expect(released.map { $0["key"] } == ["jobs/1", "jobs/held"])
        }

        static func port(in line: Substring) -> Int? {
            guard let start = line.range(of: #""address":""#) else { return nil }
            let address = line[start.upperBound...].prefix { $0 != "\"" }
            guard let colon = address.lastIndex(of: ":") else { return nil }
            return Int(address[address.index(after: colon)...])
        }
    }
}
