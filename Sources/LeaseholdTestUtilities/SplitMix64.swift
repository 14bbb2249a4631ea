/// SplitMix64: a tiny seeded generator, so that a randomized test replays from its seed alone (printed or recorded
/// with the test).
///
/// The sequence for a seed never changes: seeds recorded by earlier runs still replay.
///
/// ```swift
/// var random = SplitMix64(seed: 42)
/// let key = random.pick(["jobs/1", "jobs/2"])
/// let delay = Int.random(in: 10...400, using: &random)
/// ```
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        self.state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`, from one ``next()`` (modulo `bound`, which biases large bounds slightly).
    /// - Parameter bound: Greater than 0.
    public mutating func below(_ bound: Int) -> Int {
        Int(self.next() % UInt64(bound))
    }

    /// True with the given chance.
    /// - Parameter chance: In percent, 0 to 100.
    public mutating func percent(_ chance: Int) -> Bool {
        self.below(100) < chance
    }

    /// One of `elements`, which must not be empty.
    public mutating func pick<T>(_ elements: [T]) -> T {
        elements[self.below(elements.count)]
    }

    /// `count` random bytes.
    public mutating func bytes(count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &self) }
    }
}
