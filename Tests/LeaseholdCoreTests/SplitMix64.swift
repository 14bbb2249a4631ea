/// A tiny deterministic PRNG (SplitMix64), so that a failing randomized run replays from its seed alone.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`.
    mutating func below(_ bound: Int) -> Int {
        Int(self.next() % UInt64(bound))
    }

    /// True with the given chance in percent.
    mutating func percent(_ chance: Int) -> Bool {
        self.below(100) < chance
    }

    /// One of `elements`, which must not be empty.
    mutating func pick<T>(_ elements: [T]) -> T {
        elements[self.below(elements.count)]
    }
}
