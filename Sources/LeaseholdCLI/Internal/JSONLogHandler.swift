import Foundation
import Logging

/// `--log-format json`: one JSON object per line on stderr, for log pipelines (Loki, Elasticsearch, jq).
///
/// Each line has `time` (ISO 8601, UTC, milliseconds), `level`, `label`, `message`, and every metadata key as a
/// string field, e.g. `{"level":"info","message":"lock expired","key":"jobs/1","session":"7","owner":"ops",…}`.
struct JSONLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    let label: String
    private let write: @Sendable (String) -> Void

    init(label: String, write: @escaping @Sendable (String) -> Void = { StandardError.print($0) }) {
        self.label = label
        self.write = write
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(
        level: Logger.Level,
        message: Logger.Message,
        metadata: Logger.Metadata?,
        source: String,
        file: String,
        function: String,
        line: UInt
    ) {
        self.write(
            Self.line(
                time: Date(),
                level: level,
                label: self.label,
                message: "\(message)",
                metadata: self.metadata.merging(metadata ?? [:]) { $1 }
            )
        )
    }

    /// One log line; fields in a fixed order (time, level, label, message), then metadata keys sorted.
    static func line(
        time: Date,
        level: Logger.Level,
        label: String,
        message: String,
        metadata: Logger.Metadata
    ) -> String {
        var fields: [(String, String)] = [
            ("time", Self.timestamp(time)), ("level", level.rawValue), ("label", label), ("message", message),
        ]
        let reserved: Set<String> = ["time", "level", "label", "message"]
        for key in metadata.keys.sorted() where !reserved.contains(key) {
            fields.append((key, "\(metadata[key]!)"))
        }
        return "{" + fields.map { "\(Self.quote($0.0)):\(Self.quote($0.1))" }.joined(separator: ",") + "}"
    }

    private static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
