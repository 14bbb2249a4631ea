import LeaseholdCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Nanoseconds on the monotonic clock: one time line shared by every task of this process, so that a release sent by
/// one client and a grant received by another can be subtracted.
@inline(__always)
func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Sleeps until `deadline` on ``monotonicNanos()``; returns at once if it has passed.
func sleep(until deadline: UInt64) async throws {
    let now = monotonicNanos()
    guard deadline > now else { return }
    try await Task.sleep(for: .nanoseconds(deadline - now))
}

/// The measured part of a run: warm-up first (nothing recorded), then the window itself.
struct Window: Sendable {
    /// When the run started.
    let start: UInt64
    /// When recording starts: `start + warmup`.
    let measureStart: UInt64
    /// When recording and new work stop.
    let measureEnd: UInt64

    init(warmup: Duration, duration: Duration, from start: UInt64 = monotonicNanos()) {
        self.start = start
        self.measureStart = start + warmup.nanoseconds
        self.measureEnd = self.measureStart + duration.nanoseconds
    }

    /// Whether a completion at `time` counts.
    @inline(__always)
    func contains(_ time: UInt64) -> Bool { time >= self.measureStart && time < self.measureEnd }

    /// Whether new work may start at `time`.
    @inline(__always)
    func isOpen(at time: UInt64) -> Bool { time < self.measureEnd }

    var seconds: Double { Double(self.measureEnd - self.measureStart) / 1e9 }
}

extension Duration {
    /// The duration in whole nanoseconds (negative durations count as zero).
    var nanoseconds: UInt64 {
        UInt64(max(self.wholeNanoseconds, 0))
    }

    var secondsDouble: Double { Double(self.nanoseconds) / 1e9 }
}
