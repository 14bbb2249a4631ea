import LeaseholdCore
import Testing

@Suite("LockTable statistics and BucketHistogram")
struct LockTableStatisticsTests {
    @Test("a value lands in the first bucket whose bound is at least the value; cumulative counts end at count")
    func buckets() {
        var histogram = BucketHistogram(upperBounds: [0.001, 0.01, 1])
        for value in [0.0, 0.001, 0.0011, 0.5, 1, 7] { histogram.record(value) }
        #expect(histogram.bucketCounts == [2, 1, 2, 1])
        #expect(histogram.cumulativeCounts == [2, 3, 5, 6])
        #expect(histogram.count == 6)
        #expect(abs(histogram.sum - 8.5021) < 1e-9)
        histogram.record(.milliseconds(250))
        #expect(histogram.bucketCounts == [2, 1, 3, 1])
    }

    @Test("grants, hand-over waits, holds by cause, timeouts, expiries and keepalive margins are counted")
    func counts() {
        var table = LockTable(configuration: .init(lockDelay: .zero))
        let alice = table.open(ttl: .seconds(10), owner: "alice", now: at(0))
        let bob = table.open(ttl: .seconds(60), owner: "bob", now: at(0))
        let carol = table.open(ttl: .seconds(60), owner: "carol", now: at(0))
        let held = table.acquire(key: "k", session: alice, wait: .zero, now: at(0)).0.lock!
        _ = table.acquire(key: "k", session: bob, wait: .seconds(30), now: at(100))
        _ = table.acquire(key: "k", session: carol, wait: .seconds(1), now: at(100))
        _ = table.expire(now: at(1_100))  // carol's wait runs out
        _ = table.keepAlive(alice, now: at(2_000))  // 8 s left
        _ = table.release(key: "k", session: alice, fencingToken: held.fencingToken, now: at(2_100))  // bob waited 2 s
        _ = table.forceRelease(key: "k", now: at(2_600))  // bob held 0.5 s
        _ = table.acquire(key: "m", session: carol, wait: .zero, now: at(3_000))
        _ = table.closeSession(carol, now: at(3_000))  // held 0 s
        _ = table.acquire(key: "n", session: alice, wait: .zero, now: at(3_000))
        _ = table.expire(now: at(20_000))  // alice expires, holding "n" 17 s

        let statistics = table.statistics
        #expect(statistics.grants == 4)
        #expect(statistics.releases(.release) == 1)
        #expect(statistics.releases(.force) == 1)
        #expect(statistics.releases(.sessionClosed) == 1)
        #expect(statistics.releases(.expired) == 1)
        #expect(statistics.acquireTimeouts == 1)
        #expect(statistics.sessionExpiries == 1)
        #expect(statistics.waitSeconds.count == 1)
        #expect(statistics.waitSeconds.sum == 2)
        #expect(statistics.holdSeconds.count == 4)
        #expect(abs(statistics.holdSeconds.sum - (2.1 + 0.5 + 0 + 17)) < 1e-9)
        #expect(statistics.keepAliveMarginSeconds.count == 1)
        #expect(statistics.keepAliveMarginSeconds.sum == 8)
    }

    @Test("a restored table starts its totals at zero")
    func restoredStartsAtZero() {
        var table = LockTable()
        let session = table.open()
        _ = table.acquire(key: "k", session: session, wait: .zero, now: at(0))
        #expect(table.statistics.grants == 1)
        let restored = LockTable(
            restoring: PersistedState(
                revision: table.revision,
                lastSessionID: session,
                sessions: [],
                locks: []
            ),
            now: at(0)
        )
        #expect(restored.statistics == LockTable.Statistics())
    }
}
