import ArgumentParser

/// A duration on the command line: `500ms`, `10s`, `2m`, `1h`, or `0`.
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var duration: Duration
    let text: String

    init(_ duration: Duration, text: String) {
        self.duration = duration
        self.text = text
    }

    init?(argument: String) {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        if argument == "0" {
            self.init(.zero, text: argument)
            return
        }
        for (suffix, milliseconds) in units where argument.hasSuffix(suffix) {
            let number = argument.dropLast(suffix.count)
            // "ms" must not be read as "m" with an "s" number part, so require digits only.
            guard !number.isEmpty, number.allSatisfy(\.isNumber), let value = Int64(number) else { continue }
            let (product, overflow) = value.multipliedReportingOverflow(by: milliseconds)
            guard !overflow else { return nil }
            self.init(.milliseconds(product), text: argument)
            return
        }
        return nil
    }

    var description: String { self.text }

    static var defaultCompletionKind: CompletionKind { .default }
}
