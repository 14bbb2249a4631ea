import Foundation
import LeaseholdCore

extension WallTime {
    /// UTC in ISO 8601 with milliseconds, such as `2025-01-31T12:00:00.250Z`.
    var iso8601: String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(self.millisecondsSince1970) / 1_000))
    }
}

extension Event.Kind {
    /// The spec's name: `ACQUIRED`, `RELEASED`, `EXPIRED` or `FORCE_RELEASED`.
    var name: String {
        switch self {
        case .acquired: "ACQUIRED"
        case .released: "RELEASED"
        case .expired: "EXPIRED"
        case .forceReleased: "FORCE_RELEASED"
        }
    }
}

extension Event {
    /// One line for humans: `rev 42 ACQUIRED jobs/1 session 7 token 42 owner anonymous at 2025-…Z`.
    var line: String {
        "rev \(self.revision) \(self.kind.name) \(self.key) session \(self.sessionID) token \(self.fencingToken) "
            + "owner \(self.owner) at \(self.at.iso8601)"
    }
}

extension LockInfo {
    /// Who holds the lock, for messages: `session 7 (owner ops, token 42, since 2025-…Z)`.
    var holderDescription: String {
        "session \(self.sessionID) (owner \(self.owner), token \(self.fencingToken), since \(self.acquiredAt.iso8601))"
    }
}

extension Duration {
    /// A short form for tables and messages: `10s`, `1.5s`, `250ms`.
    var shortText: String {
        let milliseconds = self.wholeMilliseconds
        if milliseconds % 1_000 == 0 { return "\(milliseconds / 1_000)s" }
        if milliseconds < 1_000 { return "\(milliseconds)ms" }
        return String(format: "%.1fs", Double(milliseconds) / 1_000)
    }
}
