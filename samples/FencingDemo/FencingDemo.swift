import FencedResource
import FencedResourceWire
import Foundation
import LeaseholdClient
import LeaseholdCore
import LeaseholdRPC
import LeaseholdServer
import LeaseholdWire
import Logging
import NIOCore

/// `fencing-demo`: replays the classic story of why locks need fencing tokens, against a real Leasehold server and
/// a real FencedResource server, both in this process on free ports, and prints it as it happens.
///
/// Holder A takes the lock and writes, then pauses (a long GC) so that its keepalives stop; the lock server expires
/// its session for real after its TTL; B gets the lock with a higher token and writes; A wakes and writes with its
/// old token and is refused with `STALE_FENCING_TOKEN`. A second act shows the lock server's part: a token whose
/// lock was released is refused even though no newer holder has written.
///
/// Exits 0 only if both stale writes were refused.
@main
enum Demo {
    static func main() async {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let narrator = Narrator()
        let failures: [String]
        do {
            failures = try await Self.run(narrator)
        } catch {
            narrator.fail("fencing-demo: the demo could not run: \(error)")
            exit(2)
        }
        guard failures.isEmpty else {
            for failure in failures { narrator.fail("fencing-demo: FAILED: \(failure)") }
            exit(1)
        }
        narrator.say("both stale writes were refused: fencing works.")
        exit(0)
    }

    /// A's session TTL: how long A's pause must last before the lock server gives the lock away.
    static let ttl = Duration.seconds(2)
    static let key = "orders/42"

    /// Starts both servers, runs the story, and stops them. Returns what went wrong, if anything.
    static func run(_ narrator: Narrator) async throws -> [String] {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("fencing-demo-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "fencing-demo")

        var configuration = LeaseholdServer.Configuration()
        configuration.listenPort = 0
        configuration.dataPath = directory + "/leasehold.db"
        let lockServer = LeaseholdServer(configuration: configuration, logger: logger)
        let lockPort = try await lockServer.start().port!

        let validator = LockServerValidator(
            configuration: LeaseholdClient.Configuration(
                host: "127.0.0.1",
                port: lockPort,
                clientName: "fenced-resource"
            )
        )
        let service = try FencedResourceService(path: directory + "/fenced.db", validator: validator, logger: logger)
        let resourceServer = RPCServer(
            configuration: RPCServer.Configuration(host: "127.0.0.1", port: 0),
            services: [service],
            logger: logger
        )
        let resourcePort: Int
        do {
            resourcePort = try await resourceServer.start().port!
        } catch {
            await service.close()
            await lockServer.stop()
            throw error
        }
        narrator.say(
            "lock server on 127.0.0.1:\(lockPort); fenced resource on 127.0.0.1:\(resourcePort) "
                + "(it validates new tokens with the lock server)"
        )

        let result: Result<[String], any Error>
        do {
            let ports = (lock: lockPort, resource: resourcePort)
            result = .success(try await Self.staleHolder(ports, narrator) + Self.releasedToken(ports, narrator))
        } catch {
            result = .failure(error)
        }
        await resourceServer.stop()
        await service.close()
        await validator.close()
        await lockServer.stop()
        return try result.get()
    }

    // MARK: - Act 1: the paused holder

    /// A holds the lock and writes, pauses past its TTL, B takes over and writes, A wakes and writes stale.
    static func staleHolder(_ ports: (lock: Int, resource: Int), _ narrator: Narrator) async throws -> [String] {
        // An observer watches the lock server, so the expiry is reported when the server does it.
        let observer = try await Self.lockClient("observer", ports.lock)
        let expiries = AsyncStream.makeStream(of: Event.self)
        let watcher = Task {
            do {
                for try await event in observer.watch(prefix: Self.key) where event.kind == .expired {
                    narrator.say(
                        "lock server: A's session \(event.sessionID) expired; \(event.key) (token "
                            + "\(event.fencingToken)) is free at revision \(event.revision)"
                    )
                    expiries.continuation.yield(event)
                }
            } catch {
                narrator.fail("observer: the watch ended: \(error)")
            }
            expiries.continuation.finish()
        }
        defer {
            watcher.cancel()
            Task { await observer.close() }
        }

        let clientA = try await Self.lockClient("A", ports.lock)
        let sessionA = try await clientA.openSession(ttl: Self.ttl, name: "A")
        let lockA = try await sessionA.acquire(Self.key, wait: .zero)
        narrator.say(
            "A: acquired \(Self.key) with fencing token \(lockA.fencingToken) (session TTL \(Self.ttl.components.seconds)s)"
        )
        let resourceA = try await FencedResourceClient.connect(host: "127.0.0.1", port: ports.resource, clientName: "A")
        defer { Task { await resourceA.close() } }
        let writeA = try await resourceA.write(
            Self.key,
            data: Array("A's order".utf8),
            fencingToken: lockA.fencingToken,
            lockKey: Self.key
        )
        narrator.say(#"A: wrote "A's order" with token \#(lockA.fencingToken) → accepted (version \#(writeA.version))"#)

        // The pause: A's lock-server connection goes away with its keepalives, but nobody closes or releases
        // anything. A's session ends only when the server's expiry timer says so, one TTL after the last keepalive.
        await clientA.close()
        narrator.say("A: pauses (a long GC): its keepalives stop")

        let clientB = try await Self.lockClient("B", ports.lock)
        defer { Task { await clientB.close() } }
        let sessionB = try await clientB.openSession(ttl: .seconds(10), name: "B")
        narrator.say("B: asks for \(Self.key) and waits in its queue")
        let lockB = try await sessionB.acquire(Self.key, wait: Self.ttl * 4)
        // The watch usually reports the expiry first; wait for it (briefly) so the story prints in order.
        _ = await Self.first(of: expiries.stream, within: .seconds(2))
        narrator.say("B: acquired \(Self.key) with fencing token \(lockB.fencingToken)")
        let resourceB = try await FencedResourceClient.connect(host: "127.0.0.1", port: ports.resource, clientName: "B")
        defer { Task { await resourceB.close() } }
        let writeB = try await resourceB.write(
            Self.key,
            data: Array("B's order".utf8),
            fencingToken: lockB.fencingToken,
            lockKey: Self.key
        )
        narrator.say(#"B: wrote "B's order" with token \#(lockB.fencingToken) → accepted (version \#(writeB.version))"#)

        var failures: [String] = []
        do {
            let late = try await resourceA.write(
                Self.key,
                data: Array("A's stale order".utf8),
                fencingToken: lockA.fencingToken,
                lockKey: Self.key
            )
            narrator.say(
                "A: wakes up and writes with token \(lockA.fencingToken) → ACCEPTED (version \(late.version))"
            )
            failures.append("A's stale write with token \(lockA.fencingToken) was accepted")
        } catch let error as LeaseholdError where error.code == .staleFencingToken {
            narrator.say(
                "A: wakes up and writes with token \(lockA.fencingToken) → REFUSED: \(error.code) "
                    + "(highest token \(error.highestToken))"
            )
        }
        let contents = try await resourceB.read(Self.key)
        let text = String(decoding: contents.data, as: UTF8.self)
        if text == "B's order" {
            narrator.say(
                #"resource holds "\#(text)" (version \#(contents.version), highest token \#(contents.highestToken)): "#
                    + "fencing kept A's stale write out."
            )
        } else {
            narrator.say(#"resource holds "\#(text)" (version \#(contents.version))"#)
            failures.append(#"the resource holds "\#(text)", not B's order"#)
        }
        try await sessionB.close()
        return failures
    }

    // MARK: - Act 2: a released token

    /// C takes a lock, releases it, and writes late: no newer holder has written, but the lock server says the
    /// token is no longer current, so the resource refuses it.
    static func releasedToken(_ ports: (lock: Int, resource: Int), _ narrator: Narrator) async throws -> [String] {
        let key = "reports/7"
        let clientC = try await Self.lockClient("C", ports.lock)
        defer { Task { await clientC.close() } }
        let sessionC = try await clientC.openSession(ttl: .seconds(10), name: "C")
        let lockC = try await sessionC.acquire(key, wait: .zero)
        try await lockC.release()
        narrator.say(
            "C: acquired \(key) with fencing token \(lockC.fencingToken), then released it; nobody wrote since"
        )
        let resourceC = try await FencedResourceClient.connect(host: "127.0.0.1", port: ports.resource, clientName: "C")
        defer { Task { await resourceC.close() } }
        var failures: [String] = []
        do {
            _ = try await resourceC.write(
                key,
                data: Array("C's late report".utf8),
                fencingToken: lockC.fencingToken,
                lockKey: key
            )
            narrator.say("C: writes \(key) late with token \(lockC.fencingToken) → ACCEPTED")
            failures.append("C's write with the released token \(lockC.fencingToken) was accepted")
        } catch let error as LeaseholdError where error.code == .staleFencingToken {
            narrator.say(
                "C: writes \(key) late with token \(lockC.fencingToken) → REFUSED: \(error.code) "
                    + "(the lock server says the token is no longer the current grant)"
            )
        }
        try await sessionC.close()
        return failures
    }

    // MARK: - Helpers

    static func lockClient(_ name: String, _ port: Int) async throws -> LeaseholdClient {
        try await LeaseholdClient.connect(
            LeaseholdClient.Configuration(host: "127.0.0.1", port: port, clientName: name)
        )
    }

    /// The first element of `stream`, or `nil` if none arrives within `timeout`.
    static func first<Element: Sendable>(of stream: AsyncStream<Element>, within timeout: Duration) async -> Element? {
        await withTaskGroup(of: Element?.self) { group in
            group.addTask {
                for await element in stream { return element }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
    }
}

/// Prints the story with the time since the demo started, unbuffered so that it shows as it happens.
final class Narrator: Sendable {
    private let start = ContinuousClock.now

    /// Prints one line of the story on stdout.
    func say(_ line: String) {
        Self.write(self.stamp(line), to: .standardOutput)
    }

    /// Prints one line on stderr.
    func fail(_ line: String) {
        Self.write(self.stamp(line), to: .standardError)
    }

    private func stamp(_ line: String) -> String {
        let elapsed = ContinuousClock.now - self.start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return String(format: "[%6.3fs] ", seconds) + line + "\n"
    }

    private static func write(_ text: String, to handle: FileHandle) {
        handle.write(Data(text.utf8))
    }
}
