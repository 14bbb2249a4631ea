import Foundation
public import LeaseholdCore

/// The server's source of time: `ContinuousClock` in production (monotonic, docs/protocol.md), a manual clock in tests.
public protocol LeaseClock: Sendable {
    /// The current instant: monotonic time plus the wall-clock time it corresponds to.
    func now() -> Instant

    /// Suspends until ``now()`` reaches `deadline`.
    /// - Throws: `CancellationError` when the task is cancelled first.
    func sleep(until deadline: Instant) async throws
}

/// The production clock: `ContinuousClock` for deadlines, the system's wall clock for the Unix times clients see.
public struct SystemLeaseClock: LeaseClock {
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    public init() { self.origin = self.clock.now }

    public func now() -> Instant {
        let monotonic = self.clock.now - self.origin
        let wall = UInt64(max(0, Date().timeIntervalSince1970 * 1_000))
        return Instant(monotonic: monotonic, wall: WallTime(millisecondsSince1970: wall))
    }

    public func sleep(until deadline: Instant) async throws {
        try await self.clock.sleep(until: self.origin + deadline.monotonic, tolerance: .milliseconds(1))
    }
}
