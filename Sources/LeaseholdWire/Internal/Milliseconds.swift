import LeaseholdCore

// Milliseconds as integers exist only on the wire; these are the only conversions.

extension Duration {
    /// The duration as wire milliseconds, clamped to `0...UInt32.max`.
    var wireMilliseconds: UInt32 {
        let milliseconds = self.wholeMilliseconds
        return UInt32(clamping: max(0, milliseconds))
    }

    /// A duration from wire milliseconds.
    init(wireMilliseconds: UInt32) { self = .milliseconds(Int64(wireMilliseconds)) }
}
