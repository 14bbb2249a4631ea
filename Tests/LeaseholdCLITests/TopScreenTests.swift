import LeaseholdCore
import Testing

@testable import LeaseholdCLI

@Suite("leasehold top: the screen is a function of its state")
struct TopScreenTests {
    static let now = WallTime(millisecondsSince1970: 1_700_000_100_000)

    static func ago(_ milliseconds: UInt64) -> WallTime {
        WallTime(millisecondsSince1970: Self.now.millisecondsSince1970 - milliseconds)
    }

    static func lock(
        _ key: String,
        session: UInt64,
        token: UInt64,
        owner: String,
        heldFor milliseconds: UInt64
    ) -> LockInfo {
        LockInfo(
            key: key,
            sessionID: SessionID(session),
            fencingToken: token,
            owner: owner,
            acquiredAt: Self.ago(milliseconds),
            sessionTTL: .seconds(10)
        )
    }

    static func event(_ kind: Event.Kind, _ key: String, revision: UInt64, agoMilliseconds: UInt64) -> Event {
        Event(
            revision: revision,
            kind: kind,
            key: key,
            sessionID: SessionID(9),
            fencingToken: revision - 1,
            owner: "batch",
            at: Self.ago(agoMilliseconds)
        )
    }

    @Test("an empty server says so in every section")
    func empty() {
        let state = TopState(server: "127.0.0.1:7420", prefix: "")
        let lines = TopScreen.render(state, now: Self.now, width: 200, height: nil)
        #expect(
            lines == [
                "leasehold top  127.0.0.1:7420  prefix (all)  rev 0  at 2023-11-14T22:15:00.000Z",
                "locks 0  waiters 0  grants/s 0.0  releases/s 0.0  expiries/s 0.0  force-releases/s 0.0",
                "",
                "MOST CONTENDED",
                "  (no key has waiters)",
                "",
                "LONGEST HELD",
                "  (no lock is held)",
                "",
                "SESSIONS CLOSE TO EXPIRY",
                "  (give --metrics-address, the server's --metrics-listen, to see them)",
                "",
                "LATEST EXPIRIES AND FORCE-RELEASES",
                "  (none since top started)",
            ]
        )
    }

    @Test("keys sort by waiters then oldest wait; holds by age; losses newest first; rates per second")
    func busy() {
        var state = TopState(server: "lh:7420", prefix: "jobs/")
        state.locks = [
            Self.lock("jobs/a", session: 1, token: 40, owner: "alice", heldFor: 2_500),
            Self.lock("jobs/b", session: 2, token: 12, owner: "bob", heldFor: 125_000),
            Self.lock("jobs/c", session: 3, token: 41, owner: "carol", heldFor: 300),
        ]
        state.queues = [
            "jobs/a": .init(waiters: 3, oldest: Self.ago(1_200), nextOwner: "dave"),
            "jobs/b": .init(waiters: 3, oldest: Self.ago(61_000), nextOwner: "erin"),
            "jobs/c": .init(waiters: 0, oldest: nil, nextOwner: nil),
        ]
        for _ in 0..<25 { state.apply(Self.event(.acquired, "jobs/a", revision: 30, agoMilliseconds: 0)) }
        state.apply(Self.event(.expired, "jobs/x", revision: 42, agoMilliseconds: 4_000))
        state.apply(Self.event(.forceReleased, "jobs/y", revision: 43, agoMilliseconds: 900))
        state.tick(elapsed: .seconds(2))
        let lines = TopScreen.render(state, now: Self.now, width: 200, height: nil)
        #expect(
            lines == [
                "leasehold top  lh:7420  prefix jobs/  rev 43  at 2023-11-14T22:15:00.000Z",
                "locks 3  waiters 6  grants/s 12.5  releases/s 0.0  expiries/s 0.5  force-releases/s 0.5",
                "",
                "MOST CONTENDED",
                "  KEY     WAITERS  OLDEST WAIT  NEXT  HOLDER     OWNER  TOKEN",
                "  jobs/b  3        1m01s        erin  session 2  bob    12",
                "  jobs/a  3        1.2s         dave  session 1  alice  40",
                "",
                "LONGEST HELD",
                "  KEY     HELD FOR  SESSION  OWNER  TOKEN  TTL",
                "  jobs/b  2m05s     2        bob    12     10s",
                "  jobs/a  2.5s      1        alice  40     10s",
                "  jobs/c  300ms     3        carol  41     10s",
                "",
                "SESSIONS CLOSE TO EXPIRY",
                "  (give --metrics-address, the server's --metrics-listen, to see them)",
                "",
                "LATEST EXPIRIES AND FORCE-RELEASES",
                "  AGO    EVENT           KEY     SESSION  OWNER  TOKEN",
                "  900ms  FORCE_RELEASED  jobs/y  9        batch  42",
                "  4.0s   EXPIRED         jobs/x  9        batch  41",
            ]
        )
    }

    @Test("sessions close to expiry: as the server ordered them, with owner, name, time left, TTL and keys")
    func expiring() {
        var state = TopState(server: "lh:7420", prefix: "")
        state.expiringSource = .metrics("lh:9420")
        let empty = TopScreen.render(state, now: Self.now, width: 200, height: nil)
        #expect(Self.section("SESSIONS CLOSE TO EXPIRY", of: empty) == ["  (no live session)"])

        state.expiring = SessionFixtures.expiring
        let lines = TopScreen.render(state, now: Self.now, width: 200, height: nil)
        #expect(
            Self.section("SESSIONS CLOSE TO EXPIRY", of: lines) == [
                "  SESSION  OWNER  NAME      EXPIRES IN  TTL   LOCKS",
                "  7        batch  worker-1  450ms       10s   jobs/a",
                "  3        ops    -         2.1s        2.5s  -",
                "  12       batch  worker-2  1m35s       300s  a b c (+2)",
            ]
        )
        #expect(TopScreen.remaining(.milliseconds(-5)) == "0ms")
    }

    /// The lines under a section's title, up to the blank line that ends it.
    static func section(_ title: String, of lines: [String]) -> [String] {
        guard let start = lines.firstIndex(of: title) else { return [] }
        return Array(lines[(start + 1)...].prefix { !$0.isEmpty })
    }

    @Test("lines are cut to the width and the screen to the height; a failed refresh is shown")
    func clipped() {
        var state = TopState(server: "lh:7420", prefix: "")
        state.problem = "refresh failed: UNAVAILABLE"
        let lines = TopScreen.render(state, now: Self.now, width: 30, height: 4)
        #expect(lines.count == 4)
        #expect(lines.allSatisfy { $0.count <= 30 })
        #expect(lines[0] == "leasehold top  lh:7420  prefi…")
        #expect(lines[2] == "! refresh failed: UNAVAILABLE")
    }

    @Test("the rate and age formats")
    func formats() {
        #expect(TopScreen.rate(0) == "0.0")
        #expect(TopScreen.rate(12.34) == "12.3")
        #expect(TopScreen.rate(1234.4) == "1234")
        #expect(TopScreen.age(from: Self.ago(850), to: Self.now) == "850ms")
        #expect(TopScreen.age(from: Self.ago(12_345), to: Self.now) == "12.3s")
        #expect(TopScreen.age(from: Self.ago(245_000), to: Self.now) == "4m05s")
        #expect(TopScreen.age(from: Self.ago(7_620_000), to: Self.now) == "2h07m")
        #expect(TopScreen.age(from: Self.now, to: Self.ago(5)) == "0ms")
    }
}
