import LeaseholdTestUtilities
import Testing

@testable import LeaseholdClient

/// The reconnection back-off: doubling steps up to the maximum, each pause drawn in the upper half of its step.
@Suite("Reconnection back-off")
struct BackoffTests {
    @Test("pauses double up to the maximum, each between half its step and the step, and reset starts over")
    func doublesWithJitter() {
        var generator = SplitMix64(seed: 42)
        var backoff = Backoff((initial: .milliseconds(50), maximum: .milliseconds(500)))
        let steps: [Duration] = [50, 100, 200, 400, 500, 500].map { .milliseconds($0) }
        var pauses: [Duration] = []
        for step in steps {
            let pause = backoff.next(using: &generator)
            #expect(pause >= step / 2 && pause <= step, "\(pause) outside [\(step / 2), \(step)]")
            pauses.append(pause)
        }
        // Drawn, not fixed: two clients cut off together come back at different times.
        #expect(Set(pauses.map { $0 / .milliseconds(1) }).count > 1)
        backoff.reset()
        #expect(backoff.next(using: &generator) <= .milliseconds(50))
    }
}
