import ArgumentParser
import Histogram
import NIOCore

/// The lock as Redis users take it: `SET key token NX PX ttl` to acquire, a Lua compare-and-delete to release (so
/// that a client whose lock expired cannot delete its successor's), one call in flight per connection.
enum RedisLock {
    /// Deletes the key only if it still holds the caller's token: 1 if it did, 0 if not.
    static let releaseScript = """
        if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end
        """

    /// Opens `count` connections to the Redis server at `options.server` on the generator's event loops.
    static func connect(_ options: CommonOptions, count: Int) async throws -> [RedisConnection] {
        let (host, port) = try options.endpoint()
        var connections: [RedisConnection] = []
        for _ in 0..<count {
            connections.append(
                try await RedisConnection.connect(
                    host: host,
                    port: port,
                    group: GeneratorLoops.group(threads: options.eventLoops)
                )
            )
        }
        return connections
    }

    /// Loads the release script (`SCRIPT LOAD`) and returns its SHA1 for `EVALSHA`.
    static func loadReleaseScript(on connection: RedisConnection) async throws -> String {
        let reply = try await connection.callFromAnywhere(["SCRIPT", "LOAD", self.releaseScript])
        guard case .bulkString(let sha?) = reply else {
            throw RedisReplyError(description: "SCRIPT LOAD answered \(reply)")
        }
        return String(buffer: sha)
    }

    /// `SET key token NX PX ttl`: true if this call took the lock, false if another holder has it.
    static func acquire(
        on connection: RedisConnection,
        key: String,
        token: String,
        ttlMillis: String
    ) -> EventLoopFuture<Bool> {
        connection.call(["SET", key, token, "NX", "PX", ttlMillis]).flatMapThrowing { reply in
            switch reply {
            case .simpleString("OK"): return true
            case .bulkString(nil): return false
            default: throw RedisReplyError(description: "SET NX PX answered \(reply)")
            }
        }
    }

    /// The compare-and-delete release; fails if the key no longer held `token`.
    static func release(
        on connection: RedisConnection,
        sha: String,
        key: String,
        token: String
    ) -> EventLoopFuture<Void> {
        connection.call(["EVALSHA", sha, "1", key, token]).flatMapThrowing { reply in
            guard case .integer(1) = reply else {
                throw RedisReplyError(description: "the release script answered \(reply) (the lock was not ours)")
            }
        }
    }

    static let sameShapeNote =
        "Redis: SET key token NX PX ttl + EVALSHA compare-and-delete, one call in flight per connection; no FIFO queue "
        + "and no fencing token"
}

/// Options of the Redis workloads besides the common ones.
struct RedisLockOptions: ParsableArguments {
    @Option(help: "The lock's time to live (PX), e.g. 60s: long enough never to expire during a run.")
    var ttl = DurationArgument(.seconds(60), text: "60s")

    var ttlMillis: String { "\(max(1, self.ttl.duration.nanoseconds / 1_000_000))" }
}

/// `redis-uncontended`: the shape of `uncontended` against a Redis server.
struct RedisUncontended: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis-uncontended",
        abstract: "Each client loops SET(own key, NX PX) + compare-and-delete on a Redis server.",
        discussion: """
            The shape of `uncontended` (same clients, same connections, one call in flight per connection), with \
            the lock Redis users take: SET key token NX PX ttl, released by a Lua compare-and-delete (EVALSHA). \
            Reports pairs per second, the latency of each call and, with --server-pid, redis-server's CPU per pair. \
            Run Redis with appendonly yes and appendfsync always to compare with Leasehold's --sync full \
            (bench/compare-redis.sh does).
            """
    )

    @OptionGroup var options: CommonOptions
    @OptionGroup var lock: RedisLockOptions

    struct ClientResult: ClosedLoopResult {
        var acquire = makeLatencyHistogram()
        var release = makeLatencyHistogram()
        var pairs = 0
        var attempts: UInt64 = 0
        var errors = ErrorTally()
    }

    func run() async throws {
        let options = self.options
        let ttlMillis = self.lock.ttlMillis
        let connectionCount = options.connectionCount(default: options.clients, limit: options.clients)
        var report = Report(
            workload: "redis uncontended (\(options.clients) clients, \(options.connectionsLabel(connectionCount)))",
            options: options,
            parameters: options.parameters.merging([
                "connections": "\(connectionCount)", "ttl": self.lock.ttl.description,
            ]) {
                $1
            }
        )
        let connections = try await RedisLock.connect(options, count: connectionCount)
        let sha = try await RedisLock.loadReleaseScript(on: connections[0])
        Watchdog.arm(
            after: options.warmup.duration + options.duration.duration + .seconds(60),
            what: "redis-uncontended"
        )

        let window = Window(warmup: options.warmup.duration, duration: options.duration.duration)
        let (results, usage) = await runClients(options, window: window) { index in
            let connection = connections[index % connectionCount]
            let key = "bench:uncontended:\(index)"
            return await ClosedLoopClient.run(on: connection.eventLoop, window: window, ClientResult()) {
                (client: ClosedLoopClient<ClientResult>) -> EventLoopFuture<Void> in
                client.result.attempts += 1
                let token = "\(index):\(client.result.attempts)"
                let sent = monotonicNanos()
                let acquire = RedisLock.acquire(on: connection, key: key, token: token, ttlMillis: ttlMillis)
                return acquire.assumeIsolated().flatMap { (acquired: Bool) -> EventLoopFuture<Void> in
                    guard acquired else {
                        return connection.eventLoop.makeFailedFuture(
                            RedisReplyError(description: "SET NX found the client's own key held")
                        )
                    }
                    let granted = monotonicNanos()
                    let release = RedisLock.release(on: connection, sha: sha, key: key, token: token)
                    return release.assumeIsolated().map { () -> Void in
                        let released = monotonicNanos()
                        if window.contains(released) {
                            client.result.acquire.recordClamped(granted - sent)
                            client.result.release.recordClamped(released - granted)
                            client.result.pairs += 1
                        }
                    }.nonisolated()
                }.nonisolated()
            }
        }

        var acquire = makeLatencyHistogram()
        var release = makeLatencyHistogram()
        var errors = ErrorTally()
        let pairs = results.reduce(0) { $0 + $1.pairs }
        for result in results {
            acquire.add(result.acquire)
            release.add(result.release)
            errors.merge(result.errors)
        }
        let pairsPerSecond = Double(pairs) / window.seconds
        let interval = pairs > 0 ? UInt64(Double(options.clients) * window.seconds * 1e9 / Double(pairs)) : 0
        report.figures = [
            "pairs": Double(pairs), "pairsPerSecond": pairsPerSecond.rounded(toPlaces: 1),
            "errors": Double(errors.total),
        ]
        report.latencies = ["acquire": LatencySummary(acquire), "release": LatencySummary(release)]
        report.correctedLatencies = [
            "acquire": LatencySummary(acquire.corrected(expectedInterval: interval)),
            "release": LatencySummary(release.corrected(expectedInterval: interval)),
        ]
        report.resources = usage
        report.notes.append(RedisLock.sameShapeNote)
        report.notes.append(
            "closed loop; corrected latencies assume each client's mean pair interval, \(interval / 1_000) µs"
        )
        report.notes += errors.notes
        report.row("pairs/s", value: Format.count(pairsPerSecond))
        report.row("acquire latency", latency: report.latencies["acquire"]!)
        report.row("release latency", latency: report.latencies["release"]!)
        report.serverCPUPerOperation("pair", perSecond: pairsPerSecond)
        try report.emit(options: options)

        for connection in connections { await connection.close() }
    }
}

/// `redis-contended`: the shape of `contended` against a Redis server, whose clients poll instead of queueing.
struct RedisContended: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis-contended",
        abstract: "All clients compete for a few keys on a Redis server, retrying after a short delay.",
        discussion: """
            The shape of `contended`: client i loops acquire(key i mod K) + release, holding for no time. Redis \
            has no queue, so a client whose SET NX PX finds the key held retries after --retry-delay, as \
            Redlock-style clients do (their defaults are longer: redis-py's Lock sleeps 100 ms, node-redlock \
            200 ms); the short default gives Redis its best grants/s here at the cost of the failed SETs' CPU. \
            Grants are the successful SETs in the window, as in `contended`. Acquire latency runs from the \
            client's first attempt to the SET that took the lock. Hand-off latency: from a holder sending its \
            release to the next holder on that key receiving its grant (on a key, holders alternate with \
            releases, so the grant follows the latest release sent before it arrived).
            """
    )

    @OptionGroup var options: CommonOptions
    @OptionGroup var lock: RedisLockOptions

    @Option(help: "How many keys the clients share (client i competes for key i mod keys).")
    var keys = 1

    @Option(help: "How long a client waits before trying again when the key is held.")
    var retryDelay = DurationArgument(.milliseconds(1), text: "1ms")

    func validate() throws {
        guard self.keys > 0 else { throw ValidationError("--keys must be positive") }
    }

    struct Grant: Sendable {
        var key: Int
        var receivedAt: UInt64
    }

    struct Release: Sendable {
        var key: Int
        var sentAt: UInt64
    }

    struct ClientResult: ClosedLoopResult {
        var acquire = makeLatencyHistogram()
        var grantsInWindow = 0
        var failedAttempts = 0
        var attempts: UInt64 = 0
        /// When the client's current acquire started (its first attempt), while it is retrying.
        var waitingSince: UInt64?
        var grants: [Grant] = []
        var releases: [Release] = []
        var errors = ErrorTally()
    }

    func run() async throws {
        let options = self.options
        let keys = self.keys
        let ttlMillis = self.lock.ttlMillis
        let retryDelay = TimeAmount.nanoseconds(Int64(self.retryDelay.duration.nanoseconds))
        let connectionCount = options.connectionCount(default: options.clients, limit: options.clients)
        var report = Report(
            workload:
                "redis contended --keys \(keys) (\(options.clients) clients, \(options.connectionsLabel(connectionCount)))",
            options: options,
            parameters: options.parameters.merging([
                "connections": "\(connectionCount)", "keys": "\(keys)", "ttl": self.lock.ttl.description,
                "retryDelay": self.retryDelay.description,
            ]) { $1 }
        )
        let connections = try await RedisLock.connect(options, count: connectionCount)
        let sha = try await RedisLock.loadReleaseScript(on: connections[0])
        Watchdog.arm(after: options.warmup.duration + options.duration.duration + .seconds(60), what: "redis-contended")

        let window = Window(warmup: options.warmup.duration, duration: options.duration.duration)
        let (results, usage) = await runClients(options, window: window) { index in
            let connection = connections[index % connectionCount]
            let keyIndex = index % keys
            let key = "bench:contended:\(keyIndex)"
            var initial = ClientResult()
            initial.grants.reserveCapacity(4_096)
            initial.releases.reserveCapacity(4_096)
            // One attempt per round: a round that finds the key held ends after the retry delay, and the next round
            // tries again, so that waiting needs no recursion.
            return await ClosedLoopClient.run(on: connection.eventLoop, window: window, initial) {
                (client: ClosedLoopClient<ClientResult>) -> EventLoopFuture<Void> in
                client.result.attempts += 1
                let token = "\(index):\(client.result.attempts)"
                let sent = monotonicNanos()
                if client.result.waitingSince == nil { client.result.waitingSince = sent }
                let acquire = RedisLock.acquire(on: connection, key: key, token: token, ttlMillis: ttlMillis)
                return acquire.assumeIsolated().flatMap { (acquired: Bool) -> EventLoopFuture<Void> in
                    guard acquired else {
                        client.result.failedAttempts += 1
                        return connection.eventLoop.assumeIsolated().scheduleTask(in: retryDelay) {}.futureResult
                    }
                    let granted = monotonicNanos()
                    let started = client.result.waitingSince ?? sent
                    client.result.waitingSince = nil
                    client.result.grants.append(Grant(key: keyIndex, receivedAt: granted))
                    if window.contains(granted) {
                        client.result.acquire.recordClamped(granted - started)
                        client.result.grantsInWindow += 1
                    }
                    let releaseSent = monotonicNanos()
                    let release = RedisLock.release(on: connection, sha: sha, key: key, token: token)
                    return release.assumeIsolated().map { () -> Void in
                        client.result.releases.append(Release(key: keyIndex, sentAt: releaseSent))
                    }.nonisolated()
                }.nonisolated()
            }
        }

        var acquire = makeLatencyHistogram()
        var errors = ErrorTally()
        var releasesByKey = [[UInt64]](repeating: [], count: keys)
        for result in results {
            acquire.add(result.acquire)
            errors.merge(result.errors)
            for release in result.releases { releasesByKey[release.key].append(release.sentAt) }
        }
        for key in 0..<keys { releasesByKey[key].sort() }
        var handOff = makeLatencyHistogram()
        var unmatched = 0
        for result in results {
            for grant in result.grants where window.contains(grant.receivedAt) {
                // The latest release on the key sent before this grant arrived.
                let sent = releasesByKey[grant.key]
                var low = 0
                var high = sent.count
                while low < high {
                    let middle = (low + high) / 2
                    if sent[middle] < grant.receivedAt { low = middle + 1 } else { high = middle }
                }
                guard low > 0 else {
                    unmatched += 1
                    continue
                }
                handOff.recordClamped(grant.receivedAt - sent[low - 1])
            }
        }
        let grants = results.reduce(0) { $0 + $1.grantsInWindow }
        let failed = results.reduce(0) { $0 + $1.failedAttempts }
        let grantsPerSecond = Double(grants) / window.seconds
        let interval = grants > 0 ? UInt64(Double(options.clients) * window.seconds * 1e9 / Double(grants)) : 0
        report.figures = [
            "grants": Double(grants), "grantsPerSecond": grantsPerSecond.rounded(toPlaces: 1),
            "handOffs": Double(handOff.totalCount), "grantsWithoutMatchingRelease": Double(unmatched),
            "failedAttempts": Double(failed), "errors": Double(errors.total),
        ]
        report.latencies = ["acquire": LatencySummary(acquire), "handOff": LatencySummary(handOff)]
        report.correctedLatencies = ["acquire": LatencySummary(acquire.corrected(expectedInterval: interval))]
        report.resources = usage
        report.notes.append(RedisLock.sameShapeNote)
        report.notes.append(
            "a held key is retried after \(self.retryDelay); \(failed) SETs found their key held over the whole run "
                + "(warm-up included)"
        )
        report.notes += errors.notes
        report.row("grants/s", value: Format.count(grantsPerSecond))
        report.row("hand-off latency", latency: report.latencies["handOff"]!)
        report.row("acquire latency (incl. retries)", latency: report.latencies["acquire"]!)
        report.serverCPUPerOperation("grant", perSecond: grantsPerSecond)
        try report.emit(options: options)

        for connection in connections { await connection.close() }
    }
}
