import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire
import Synchronization

/// Counts calls by method and code and their durations by method, for `leasehold_rpc_calls_total` and
/// `leasehold_rpc_duration_seconds`, and connections refused by the server's bounds, for
/// `leasehold_connections_refused_total`.
///
/// Every slot is an atomic allocated once, at start: a call that ends costs two array lookups (the server tells its
/// method as an index, see ``RPCCallObserver``; its code is a small number), a bucket search and three atomic
/// additions, with no hashing, no lock and no allocation. A scrape reads the slots
/// (each on its own; a scrape racing calls may see one call in a counter and not yet in the histogram, as with any
/// Prometheus client).
final class RPCMetrics: RPCCallObserver {
    /// Bounds of the duration histogram: a tenth of a millisecond (a query) up to minutes (a long `Acquire` wait).
    static let durationBounds: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
    ]
    /// The codes with a slot of their own, in order; any other code counts as the last slot (`UNKNOWN`).
    static let codes: [LeaseholdError.Code] = [
        .ok, .cancelled, .unknown, .invalidArgument, .deadlineExceeded, .notFound, .permissionDenied,
        .resourceExhausted, .unimplemented, .internal, .unavailable, .unauthenticated, .sessionExpired, .lockHeld,
        .notLockHolder, .staleFencingToken, .compacted, .frameTooLarge, .unsupportedProtocol,
    ]
    private static let unknownSlot = codes.firstIndex(of: .unknown)!

    private final class Slot: Sendable {
        let value = Atomic<Int>(0)
        func add(_ amount: Int) { self.value.wrappingAdd(amount, ordering: .relaxed) }
        var load: Int { self.value.load(ordering: .relaxed) }
    }

    /// The full names of the methods counted one by one, in the order of ``methods``.
    let methodNames: [String]
    /// Method labels: the short names of the service's methods, then `other` for anything else.
    let methods: [String]
    /// `codeSlots[code.rawValue]`: the code's place in ``codes`` (`UNKNOWN`'s for a number not there), for every
    /// number up to the largest there; a number past them counts as `UNKNOWN` too.
    private let codeSlots: [Int]
    /// `calls[method * codes.count + code]`.
    private let calls: [Slot]
    /// `buckets[method * (durationBounds.count + 1) + bucket]`, not cumulative.
    private let buckets: [Slot]
    private let nanoseconds: [Slot]
    /// `refusals[reason.rawValue]`.
    private let refusals = ConnectionRefusal.allCases.map { _ in Slot() }

    init(methodNames: [String] = LeaseholdMethod.allNames) {
        self.methodNames = methodNames
        self.methods = methodNames.map { $0.split(separator: "/").last.map(String.init) ?? $0 } + ["other"]
        self.codeSlots = (0...Int(Self.codes.map(\.rawValue).max()!)).map { raw in
            Self.codes.firstIndex(of: LeaseholdError.Code(rawValue: Int32(raw))) ?? Self.unknownSlot
        }
        self.calls = (0..<(self.methods.count * Self.codes.count)).map { _ in Slot() }
        self.buckets = (0..<(self.methods.count * (Self.durationBounds.count + 1))).map { _ in Slot() }
        self.nanoseconds = (0..<self.methods.count).map { _ in Slot() }
    }

    func connectionRefused(_ reason: ConnectionRefusal) {
        self.refusals[reason.rawValue].add(1)
    }

    /// How many connections the server refused or closed for `reason`.
    func refusals(_ reason: ConnectionRefusal) -> Int { self.refusals[reason.rawValue].load }

    func callEnded(method: Int, code: LeaseholdError.Code, duration: Duration) {
        let m = method >= 0 && method < self.methods.count ? method : self.methods.count - 1
        let raw = Int(code.rawValue)
        let c = raw >= 0 && raw < self.codeSlots.count ? self.codeSlots[raw] : Self.unknownSlot
        self.calls[m * Self.codes.count + c].add(1)
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) + Double(attoseconds) / 1e18
        var low = 0
        var high = Self.durationBounds.count
        while low < high {
            let middle = (low + high) / 2
            if Self.durationBounds[middle] < value { low = middle + 1 } else { high = middle }
        }
        self.buckets[m * (Self.durationBounds.count + 1) + low].add(1)
        self.nanoseconds[m].add(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    }

    /// Calls of method `method` (an index into ``methods``) that ended with `code`.
    func calls(method: Int, code: Int) -> Int { self.calls[method * Self.codes.count + code].load }

    /// The duration histogram of one method.
    func durations(method: Int) -> (bucketCounts: [UInt64], sum: Double) {
        let width = Self.durationBounds.count + 1
        let counts = (0..<width).map { UInt64(self.buckets[method * width + $0].load) }
        return (counts, Double(self.nanoseconds[method].load) / 1e9)
    }
}
