import Foundation
import LeaseholdTestSupport
import LeaseholdTestUtilities
import Testing

extension EndToEndTests {
    /// `watch`, `release --force`, `hash-token` and the error contract of the client commands.
    @Suite("leasehold client commands")
    struct ClientCommandTests {
        @Test("watch --json prints one parsable object per event")
        func watchJSON() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let server = try await ServerProcess.start(.leasehold, in: directory)
            defer { server.killIfRunning() }

            // From revision 1 of a fresh server: no race with the watch being set up.
            let watcher = try ChildProcess(
                "leasehold",
                ["watch", "jobs/", "--json", "--from", "1", "--server", server.address],
                in: directory
            )
            defer { watcher.killIfRunning() }
            let run = try await leasehold(["lock", "jobs/7", "--server", server.address, "--", "true"], in: directory)
            #expect(run.status == 0)
            _ = try await leasehold(["lock", "other/1", "--server", server.address, "--", "true"], in: directory)

            let lines = try await watcher.outputLines(atLeast: 2)
            let events = try lines.map { try LockCommandTests.object($0) }
            #expect(events.map { $0["type"] as? String } == ["ACQUIRED", "RELEASED"])
            #expect(events.allSatisfy { $0["key"] as? String == "jobs/7" })
            let tokens = events.map { ($0["fencing_token"] as? NSNumber)?.uint64Value }
            #expect(tokens[0] != nil && tokens[0] == tokens[1], "both events are about the same grant")
            let revisions = events.compactMap { ($0["revision"] as? NSNumber)?.uint64Value }
            #expect(revisions.count == 2 && revisions[1] == revisions[0] + 1)
            #expect(revisions.first == tokens[0], "a grant's token is its revision")
            let fields: Set<String> = ["revision", "type", "key", "session_id", "fencing_token", "owner", "at_ms"]
            #expect(events.allSatisfy { Set($0.keys) == fields })

            watcher.send(SIGINT)
            #expect(try await watcher.exitStatus() == 128 + SIGINT)
            #expect(watcher.outputLines.count == 2, "other/1 is outside the prefix")
            #expect(try await server.stop() == .exited(0), "serve exits 0 on SIGTERM")
        }

        @Test("release --force needs a token with the admin role")
        func forceReleaseNeedsAdmin() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let adminDigest = try await leasehold(["hash-token", "admin-secret"], in: directory).standardOutput
            let userDigest = try await leasehold(["hash-token", "user-secret"], in: directory).standardOutput
            let authFile = directory.file("auth.json")
            let auth = """
                {"tokens": [
                  {"principal": "ops", "sha256": "\(adminDigest.trimmingCharacters(in: .whitespacesAndNewlines))", "roles": ["admin"]},
                  {"principal": "worker", "sha256": "\(userDigest.trimmingCharacters(in: .whitespacesAndNewlines))", "roles": []}
                ]}
                """
            try auth.write(toFile: authFile, atomically: true, encoding: .utf8)
            let server = try await ServerProcess.start(.leasehold, in: directory, arguments: ["--auth-file", authFile])
            defer { server.killIfRunning() }
            let marker = directory.file("marker")
            let environment = ["RELEASE_FILE": directory.file("release"), "MARKER_FILE": marker]

            let holder = try ChildProcess(
                "leasehold",
                ["lock", "jobs/1", "--server", server.address, "--", "sh", "-c", LockCommandTests.holdUntilReleased],
                environment: environment.merging(["LEASEHOLD_TOKEN": "user-secret"]) { $1 },
                in: directory
            )
            defer {
                // The child first, so that it ends now even if leasehold itself must be SIGKILLed.
                _ = FileManager.default.createFile(atPath: directory.file("release"), contents: nil)
                holder.killIfRunning()
            }
            let token = try #require(UInt64(try await holder.outputLines(atLeast: 1)[0]))

            let anonymous = try await leasehold(
                ["release", "--force", "jobs/1", "--reason", "test", "--server", server.address],
                in: directory
            )
            #expect(anonymous.status == 77, "no token: \(anonymous.standardError)")
            #expect(anonymous.standardError.hasPrefix("leasehold: not authenticated"))

            let worker = try await leasehold(
                [
                    "release", "--force", "jobs/1", "--reason", "test", "--token", "user-secret", "--server",
                    server.address,
                ],
                in: directory
            )
            #expect(worker.status == 77, "no admin role: \(worker.standardError)")
            #expect(worker.standardError.hasPrefix("leasehold: permission denied"))

            let admin = try await leasehold(
                [
                    "release", "--force", "jobs/1", "--reason", "test", "--token", "admin-secret", "--server",
                    server.address,
                ],
                in: directory
            )
            #expect(admin.status == 0, "stderr: \(admin.standardError)")
            #expect(admin.standardOutput.contains("released jobs/1"))
            #expect(admin.standardOutput.contains("owner worker, token \(token)"))

            // The holder's session lives on, but its lock is gone: lock stops the command and says so.
            #expect(try await holder.exitStatus() == 2)
            #expect(FileManager.default.fileExists(atPath: marker), "the command got SIGTERM")
            #expect(holder.standardError.contains("force-released"))

            let again = try await leasehold(
                [
                    "release", "--force", "jobs/1", "--reason", "test", "--token", "admin-secret", "--server",
                    server.address,
                ],
                in: directory
            )
            #expect(again.status == 70)
            #expect(again.standardError.contains("not held"))
            #expect(try await server.stop() == .exited(0), "serve exits 0 on SIGTERM")
        }

        @Test("hash-token prints the lowercase hex SHA-256 of the token")
        func hashToken() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let result = try await leasehold(["hash-token", "abc"], in: directory)
            #expect(result.status == 0)
            #expect(result.standardOutput == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n")
        }

        @Test(
            "bad usage exits 64",
            arguments: [
                ["lock", "jobs/1"],
                ["lock", "jobs/1", "--"],
                ["lock", "jobs/1", "--ttl", "banana", "--", "true"],
                ["lock", "jobs/1", "--ttl", "0s", "--", "true"],
                ["lock", "jobs/1", "--wait", "-1s", "--", "true"],
                ["release", "jobs/1", "--reason", "no --force"],
                ["release", "--force", "jobs/1"],
                ["status", "jobs/1", "--server", "no-port"],
                ["list", "--server", "127.0.0.1:7420,no-port"],
                ["list", "--server", "127.0.0.1:7420,"],
                ["watch", "--from", "0"],
                ["serve", "--event-loops", "0"],
                ["serve", "--sync", "sometimes"],
                ["no-such-command"],
            ]
        )
        func badUsage(arguments: [String]) async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let result = try await leasehold(arguments, in: directory)
            #expect(result.status == 64, "stderr: \(result.standardError)")
            #expect(!result.standardError.isEmpty)
        }

        @Test(
            "an unreachable server exits 69",
            arguments: [["status", "jobs/1"], ["lock", "jobs/1", "--", "true"], ["watch"]]
        )
        func unreachable(arguments: [String]) async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            // A port that was just served and is now closed: connecting is refused at once.
            let server = try await ServerProcess.start(.leasehold, in: directory)
            server.killIfRunning()

            // --server right after the subcommand: after `lock … --` it would belong to the command.
            let result = try await leasehold(
                [arguments[0], "--server", server.address] + arguments.dropFirst(),
                in: directory
            )
            #expect(result.status == 69)
            #expect(result.standardError.hasPrefix("leasehold: cannot reach the server at \(server.address)"))
            #expect(result.standardOutput.isEmpty)
        }

        @Test("--server and LEASEHOLD_SERVER take a list: a command skips the addresses that do not answer")
        func serverList() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let closed = try await ServerProcess.start(.leasehold, in: directory)
            closed.killIfRunning()
            let server = try await ServerProcess.start(.leasehold, in: directory)
            defer { server.killIfRunning() }
            let list = "\(closed.address),\(server.address)"

            let run = try await leasehold(["lock", "--server", list, "jobs/1", "--", "true"], in: directory)
            #expect(run.status == 0, "stderr: \(run.standardError)")
            let status = try await leasehold(
                ["status", "jobs/1"],
                environment: ["LEASEHOLD_SERVER": list],
                in: directory
            )
            #expect(status.status == 0, "stderr: \(status.standardError)")
            #expect(status.standardOutput.contains("jobs/1"))

            // Nobody answers at either address: 69, naming both.
            server.killIfRunning()
            let down = try await leasehold(["list", "--server", list], in: directory)
            #expect(down.status == 69)
            #expect(down.standardError.hasPrefix("leasehold: cannot reach the server at \(list)"))
            #expect(down.standardError.contains("no active server among 2 addresses"))
        }
    }
}
