import LeaseholdClient
import Testing

@Suite("When sessions send keepalives")
struct KeepAliveScheduleTests {
    @Test("the interval is TTL/3 and the tick 1/64 of it in whole milliseconds, within 1–50 ms")
    func intervalAndTick() {
        let tenSeconds = KeepAliveSchedule(ttl: .seconds(10))
        #expect(tenSeconds.interval == .seconds(10) / 3)
        #expect(tenSeconds.tick == .milliseconds(50))  // 52 ms, capped
        #expect(KeepAliveSchedule(ttl: .seconds(3)).tick == .milliseconds(15))  // 1 s / 64 = 15.6 ms
        #expect(KeepAliveSchedule(ttl: .milliseconds(30)).tick == .milliseconds(1))  // 10 ms / 64, raised to 1 ms
    }

    @Test("the next keepalive is due within one tick before a whole interval, on the tick grid")
    func nextIsAlignedAndNeverLate() {
        let schedule = KeepAliveSchedule(ttl: .seconds(10))
        let start = ContinuousClock.now
        var previous: ContinuousClock.Instant?
        for step in 0..<500 {
            let sent = start + .microseconds(step * 997)
            let next = schedule.next(after: sent)
            #expect(next <= sent + schedule.interval)
            #expect(next > sent + schedule.interval - schedule.tick)
            if let previous {
                #expect(next >= previous)
                // Two instants on the grid are a whole number of ticks apart.
                #expect((next - previous) / schedule.tick == ((next - previous) / schedule.tick).rounded())
            }
            previous = next
        }
    }

    @Test("sessions sent within the same tick are due at the same instant; a tick later, one tick later")
    func sameTickSameInstant() {
        let schedule = KeepAliveSchedule(ttl: .seconds(10))
        let base = schedule.next(after: .now)
        // `base` is on the grid; sends at `base - interval + k` for k in [0, tick) share the next instant.
        let sentOnGrid = base - schedule.interval
        let a = schedule.next(after: sentOnGrid)
        let b = schedule.next(after: sentOnGrid + schedule.tick - .nanoseconds(1))
        let c = schedule.next(after: sentOnGrid + schedule.tick)
        #expect(a == b)
        #expect(c == a + schedule.tick)
    }

    @Test("alignedDown rounds toward minus infinity onto multiples of the tick")
    func alignedDown() {
        let schedule = KeepAliveSchedule(ttl: .seconds(10))  // 50 ms
        #expect(schedule.alignedDown(.milliseconds(149)) == .milliseconds(100))
        #expect(schedule.alignedDown(.milliseconds(150)) == .milliseconds(150))
        #expect(schedule.alignedDown(.zero) == .zero)
        #expect(schedule.alignedDown(.milliseconds(-1)) == .milliseconds(-50))
    }
}
