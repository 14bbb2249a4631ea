import LeaseholdCore
import LeaseholdTestUtilities
import Testing

@Suite("LockTable: the sessions closest to expiry")
struct LockTableExpiryOrderTests {
    @Test("soonest deadline first, with time left and held locks; a keepalive moves a session back")
    func soonestFirst() {
        var table = LockTable()
        let long = table.open(ttl: .seconds(60), owner: "long", now: at(0))
        let short = table.open(ttl: .seconds(5), owner: "short", now: at(0))
        let middle = table.open(ttl: .seconds(10), owner: "middle", now: at(1_000))
        _ = table.acquire(key: "jobs/1", session: short, wait: .zero, now: at(1_000))

        var soonest = table.sessionsClosestToExpiry(limit: 2, now: at(2_000))
        #expect(soonest.map(\.id) == [short, middle])
        #expect(soonest.map(\.expiresIn) == [.seconds(3), .seconds(9)])
        #expect(soonest.map(\.owner) == ["short", "middle"])
        #expect(soonest.first?.locks.map(\.key) == ["jobs/1"])

        // A keepalive at 4 s moves short's deadline from 5 s to 9 s, still before middle's 11 s.
        _ = table.keepAlive(short, now: at(4_000))
        soonest = table.sessionsClosestToExpiry(limit: 3, now: at(4_000))
        #expect(soonest.map(\.id) == [short, middle, long])
        #expect(soonest.map(\.expiresIn) == [.seconds(5), .seconds(7), .seconds(56)])
        #expect(table.sessionsClosestToExpiry(limit: 0, now: at(4_000)).isEmpty)
        #expect(table.sessionsClosestToExpiry(limit: 10, now: at(4_000)).count == 3)
    }

    @Test("the same order as sorting every session by deadline, then id", arguments: [1, 7, 64])
    func matchesAFullSort(limit: Int) {
        var random = SplitMix64(seed: UInt64(limit))
        var table = LockTable()
        var ids: [SessionID] = []
        for index in 0..<200 {
            let ttl = Duration.seconds(Int64(1 + random.next() % 30))
            ids.append(table.open(ttl: ttl, now: at(Int64(index % 10) * 90)))
        }
        for id in ids where random.next() % 3 == 0 { _ = table.keepAlive(id, now: at(900)) }
        // Before the first deadline (1 s), so that every session has time left and the two orders are one.
        let now = at(950)
        let all = ids.compactMap { table.session($0, now: now) }
            .sorted { ($0.expiresIn, $0.id) < ($1.expiresIn, $1.id) }
        #expect(table.sessionsClosestToExpiry(limit: limit, now: now) == Array(all.prefix(limit)))
    }
}
