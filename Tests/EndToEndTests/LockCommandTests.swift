import Foundation
import LeaseholdTestSupport
import LeaseholdTestUtilities
import Testing

extension EndToEndTests {
    /// `leasehold lock` against a built `leasehold serve`, both as child processes.
    @Suite("leasehold lock")
    struct LockCommandTests {
        /// A child script that says it runs (printing its token), then waits for `$RELEASE_FILE` (at most ~30 s).
        /// On SIGTERM it writes its token to `$MARKER_FILE` and exits 0, as a well-behaved job would.
        static let holdUntilReleased = """
            trap 'echo "$LEASEHOLD_FENCING_TOKEN" > "$MARKER_FILE"; exit 0' TERM
            echo "$LEASEHOLD_FENCING_TOKEN"
            i=0
            while [ ! -e "$RELEASE_FILE" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
            """

        @Test("the command sees its key and fencing token, and its exit status is passed through")
        func tokenAndExitStatus() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let server = try await ServerProcess.start(.leasehold, in: directory)
            defer { server.killIfRunning() }

            // The address comes from LEASEHOLD_SERVER here, to cover the environment path.
            let result = try await leasehold(
                ["lock", "jobs/1", "--", "sh", "-c", #"echo "$LEASEHOLD_FENCING_TOKEN $LEASEHOLD_KEY"; exit 7"#],
                environment: ["LEASEHOLD_SERVER": server.address],
                in: directory
            )
            #expect(result.status == 7, "stderr: \(result.standardError)")
            let fields = result.standardOutput.split(separator: " ").map {
                $0.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let token = try #require(fields.first.flatMap { UInt64($0) }, "output: \(result.standardOutput)")
            #expect(token > 0)
            #expect(fields.dropFirst().first == "jobs/1")

            let signaled = try await leasehold(
                ["lock", "jobs/1", "--server", server.address, "--", "sh", "-c", "kill -KILL $$"],
                in: directory
            )
            #expect(signaled.status == 128 + SIGKILL, "a child killed by signal N gives 128 + N")

            let missing = try await leasehold(
                ["lock", "jobs/1", "--server", server.address, "--", "no-such-command-here"],
                in: directory
            )
            #expect(missing.status == 127)
            #expect(missing.standardError.hasPrefix("leasehold: cannot run no-such-command-here"))

            let free = try await leasehold(["status", "jobs/1", "--json", "--server", server.address], in: directory)
            #expect(try Self.object(free.standardOutput)["held"] as? Bool == false, "every run released the lock")
            #expect(try await server.stop() == .exited(0), "serve exits 0 on SIGTERM")
        }

        @Test("--wait 0 on a held key exits 1 and names the holder; status and list show it")
        func tryLockNamesHolder() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let server = try await ServerProcess.start(.leasehold, in: directory)
            defer { server.killIfRunning() }
            let environment = ["RELEASE_FILE": directory.file("release"), "MARKER_FILE": directory.file("marker")]

            let holder = try ChildProcess(
                "leasehold",
                ["lock", "jobs/1", "--server", server.address, "--", "sh", "-c", Self.holdUntilReleased],
                environment: environment,
                in: directory
            )
            defer {
                // The child first, so that it ends now even if leasehold itself must be SIGKILLed.
                _ = FileManager.default.createFile(atPath: directory.file("release"), contents: nil)
                holder.killIfRunning()
            }
            let token = try #require(UInt64(try await holder.outputLines(atLeast: 1)[0]))

            let second = try await leasehold(
                ["lock", "jobs/1", "--wait", "0", "--server", server.address, "--", "true"],
                in: directory
            )
            #expect(second.status == 1)
            #expect(second.standardOutput.isEmpty, "the second command never ran")
            #expect(second.standardError.hasPrefix("leasehold: jobs/1 is held by session "))
            #expect(second.standardError.contains("token \(token)"))
            #expect(second.standardError.contains("owner anonymous"))
            #expect(second.standardError.split(separator: "\n").count == 1, "one line: \(second.standardError)")

            let timedOut = try await leasehold(
                ["lock", "jobs/1", "--wait", "300ms", "--server", server.address, "--", "true"],
                in: directory
            )
            #expect(timedOut.status == 1)
            #expect(timedOut.standardError.contains("timed out"))

            let status = try await leasehold(["status", "jobs/1", "--json", "--server", server.address], in: directory)
            #expect(status.status == 0)
            let object = try Self.object(status.standardOutput)
            #expect(object["held"] as? Bool == true)
            let lock = try #require(object["lock"] as? [String: Any])
            #expect((lock["fencing_token"] as? NSNumber)?.uint64Value == token)
            #expect(lock["owner"] as? String == "anonymous")
            #expect(object["queue"] as? [Any] != nil)

            let table = try await leasehold(["status", "jobs/1", "--server", server.address], in: directory)
            #expect(table.standardOutput.contains("fencing token  \(token)"))

            let list = try await leasehold(["list", "jobs/", "--json", "--server", server.address], in: directory)
            let listed = try list.standardOutput.split(separator: "\n").map { try Self.object(String($0)) }
            #expect(listed.map { $0["key"] as? String } == ["jobs/1"])
            let humanList = try await leasehold(["list", "--server", server.address], in: directory)
            #expect(humanList.standardOutput.hasPrefix("KEY "))
            #expect(humanList.standardOutput.contains("jobs/1"))

            _ = FileManager.default.createFile(atPath: directory.file("release"), contents: nil)
            #expect(try await holder.exitStatus() == 0)
            #expect(try await server.stop() == .exited(0), "serve exits 0 on SIGTERM")
        }

        @Test("a waiting lock shows in the queue, and SIGINT takes it out of the queue")
        func interruptedWait() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let server = try await ServerProcess.start(.leasehold, in: directory)
            defer { server.killIfRunning() }
            let environment = ["RELEASE_FILE": directory.file("release"), "MARKER_FILE": directory.file("marker")]

            let holder = try ChildProcess(
                "leasehold",
                ["lock", "jobs/1", "--server", server.address, "--", "sh", "-c", Self.holdUntilReleased],
                environment: environment,
                in: directory
            )
            defer {
                // The child first, so that it ends now even if leasehold itself must be SIGKILLed.
                _ = FileManager.default.createFile(atPath: directory.file("release"), contents: nil)
                holder.killIfRunning()
            }
            try await holder.outputLines(atLeast: 1)
            let waiter = try ChildProcess(
                "leasehold",
                ["lock", "jobs/1", "--wait", "20s", "--server", server.address, "--", "echo", "ran"],
                in: directory
            )
            defer { waiter.killIfRunning() }

            var status: [String: Any] = [:]
            try await eventually(within: .seconds(10), "the waiter to queue") {
                status = try Self.status(of: "jobs/1", server: server, in: directory)
                return status["waiters"] as? Int == 1
            }
            let queue = try #require(status["queue"] as? [[String: Any]])
            #expect(queue.count == 1 && queue[0]["owner"] as? String == "anonymous")
            let table = try await leasehold(["status", "jobs/1", "--server", server.address], in: directory)
            #expect(table.standardOutput.contains("queue (granted in this order):"))

            waiter.send(SIGINT)
            #expect(try await waiter.exitStatus() == 128 + SIGINT)
            #expect(waiter.standardOutput.isEmpty, "the command never ran")
            #expect(try Self.status(of: "jobs/1", server: server, in: directory)["waiters"] as? Int == 0)
            #expect(holder.outputLines.count == 1, "the holder still runs")
            #expect(try await server.stop() == .exited(0), "serve exits 0 on SIGTERM")
        }

        @Test("a stopped server makes lock stop its command before the TTL has passed, and exit 2")
        func lostLockStopsCommand() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let server = try await ServerProcess.start(.leasehold, in: directory)
            defer { server.killIfRunning() }
            let marker = directory.file("marker")
            let environment = ["RELEASE_FILE": directory.file("release"), "MARKER_FILE": marker]

            let holder = try ChildProcess(
                "leasehold",
                [
                    "lock", "jobs/1", "--ttl", "3s", "--server", server.address, "--", "sh", "-c",
                    Self.holdUntilReleased,
                ],
                environment: environment,
                in: directory
            )
            defer {
                // The child first, so that it ends now even if leasehold itself must be SIGKILLed.
                _ = FileManager.default.createFile(atPath: directory.file("release"), contents: nil)
                holder.killIfRunning()
            }
            try await holder.outputLines(atLeast: 1)

            // SIGSTOP keeps the connection open while nothing answers: only the keepalive deadline can notice.
            let stoppedAt = ContinuousClock.now
            server.process.send(SIGSTOP)
            defer { server.process.send(SIGCONT) }
            try await eventually(within: .seconds(6), "the command to get SIGTERM") {
                FileManager.default.fileExists(atPath: marker)
            }
            let elapsed = ContinuousClock.now - stoppedAt
            // No keepalive has succeeded since `stoppedAt`, so the server could not expire the session before
            // stoppedAt + 3 s: the command must be told to stop earlier. It should not be told much earlier than
            // TTL − margin after the last keepalive, which was at most one keepalive interval (1 s) before.
            #expect(elapsed < .seconds(3), "SIGTERM came \(elapsed) after the server stopped")
            #expect(elapsed > .seconds(1), "SIGTERM came \(elapsed) after the server stopped: too early")

            #expect(try await holder.exitStatus(within: .seconds(5)) == 2)
            // The child's shell may add its own lines ("Terminated"); leasehold says one thing.
            let errors = holder.standardError.split(separator: "\n").filter { $0.hasPrefix("leasehold:") }
            #expect(errors.count == 1, "one line: \(holder.standardError)")
            #expect(errors.first?.hasPrefix("leasehold: lost the lock on jobs/1") == true)

            server.process.send(SIGCONT)
            #expect(try await server.stop() == .exited(0), "serve exits 0 on SIGTERM")
        }

        @Test("SIGTERM to lock stops the command, releases the lock and exits 128 + 15")
        func signalStopsCommandAndReleases() async throws {
            let directory = try TemporaryDirectory("e2e")
            defer { directory.remove() }
            let server = try await ServerProcess.start(.leasehold, in: directory)
            defer { server.killIfRunning() }
            let marker = directory.file("marker")
            let environment = ["RELEASE_FILE": directory.file("release"), "MARKER_FILE": marker]

            let holder = try ChildProcess(
                "leasehold",
                ["lock", "jobs/1", "--server", server.address, "--", "sh", "-c", Self.holdUntilReleased],
                environment: environment,
                in: directory
            )
            defer {
                // The child first, so that it ends now even if leasehold itself must be SIGKILLed.
                _ = FileManager.default.createFile(atPath: directory.file("release"), contents: nil)
                holder.killIfRunning()
            }
            try await holder.outputLines(atLeast: 1)

            holder.send(SIGTERM)
            #expect(try await holder.exitStatus() == 128 + SIGTERM)
            #expect(FileManager.default.fileExists(atPath: marker), "the command got SIGTERM first")
            let status = try await leasehold(["status", "jobs/1", "--json", "--server", server.address], in: directory)
            #expect(try Self.object(status.standardOutput)["held"] as? Bool == false, "the lock was released")
            #expect(try await server.stop() == .exited(0), "serve exits 0 on SIGTERM")
        }

        /// `leasehold status KEY --json`, parsed; run synchronously for use inside ``eventually(within:_:_:)``.
        static func status(
            of key: String,
            server: ServerProcess,
            in directory: TemporaryDirectory
        ) throws
            -> [String: Any]
        {
            let process = try ChildProcess(
                "leasehold",
                ["status", key, "--json", "--server", server.address],
                in: directory
            )
            defer { process.killIfRunning() }
            process.waitUntilExit()
            return try Self.object(process.standardOutput)
        }

        static func object(_ line: String) throws -> [String: Any] {
            let value = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try #require(value as? [String: Any], "not a JSON object: \(line)")
        }
    }
}
