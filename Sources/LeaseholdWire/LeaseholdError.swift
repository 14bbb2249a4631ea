public import LeaseholdCore

/// The one error callers of Leasehold see, shaped like gRPC's `RPCError`.
///
/// ``Code`` is a struct so that new codes break nobody's `switch`; its ``Code/rawValue`` *is* the wire number of
/// `leasehold.v1.Code`, so the mapping to the wire lives in exactly one place (the static members below).
public struct LeaseholdError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A status code: the gRPC numbers plus Leasehold's domain codes (docs/protocol.md).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The wire number.
        public var rawValue: Int32
        /// Wraps a wire number; unknown numbers are kept as they are.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let ok = Code(rawValue: 0)
        public static let cancelled = Code(rawValue: 1)
        public static let unknown = Code(rawValue: 2)
        public static let invalidArgument = Code(rawValue: 3)
        public static let deadlineExceeded = Code(rawValue: 4)
        public static let notFound = Code(rawValue: 5)
        public static let permissionDenied = Code(rawValue: 7)
        public static let resourceExhausted = Code(rawValue: 8)
        public static let unimplemented = Code(rawValue: 12)
        public static let `internal` = Code(rawValue: 13)
        public static let unavailable = Code(rawValue: 14)
        public static let unauthenticated = Code(rawValue: 16)
        public static let sessionExpired = Code(rawValue: 100)
        public static let lockHeld = Code(rawValue: 101)
        public static let notLockHolder = Code(rawValue: 102)
        public static let staleFencingToken = Code(rawValue: 103)
        public static let compacted = Code(rawValue: 104)
        public static let frameTooLarge = Code(rawValue: 105)
        public static let unsupportedProtocol = Code(rawValue: 106)

        private static let names: [Int32: String] = [
            0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
            7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE",
            16: "UNAUTHENTICATED", 100: "SESSION_EXPIRED", 101: "LOCK_HELD", 102: "NOT_LOCK_HOLDER",
            103: "STALE_FENCING_TOKEN", 104: "COMPACTED", 105: "FRAME_TOO_LARGE", 106: "UNSUPPORTED_PROTOCOL",
        ]

        /// The spec's name, such as `LOCK_HELD`.
        public var description: String { Self.names[self.rawValue] ?? "CODE_\(self.rawValue)" }
    }

    public var code: Code
    public var message: String
    /// The current holder, with ``Code/lockHeld``.
    public var holder: LockInfo?
    /// The highest accepted token, with ``Code/staleFencingToken``.
    public var highestToken: UInt64
    /// The oldest revision still kept, with ``Code/compacted``.
    public var compactRevision: UInt64
    /// `HOST:PORT` of the active node, with ``Code/unavailable`` from a standby; empty when unknown.
    public var leader: String
    /// The underlying error, if any; left out of `==` and hashing.
    public var cause: (any Error)?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The status code.
    ///   - message: A human-readable explanation.
    ///   - holder: The lock's holder, for ``Code/lockHeld``.
    ///   - highestToken: For ``Code/staleFencingToken``.
    ///   - compactRevision: For ``Code/compacted``.
    ///   - leader: The active node, for ``Code/unavailable`` from a standby.
    ///   - cause: The error that led to this one.
    public init(
        code: Code,
        message: String,
        holder: LockInfo? = nil,
        highestToken: UInt64 = 0,
        compactRevision: UInt64 = 0,
        leader: String = "",
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.holder = holder
        self.highestToken = highestToken
        self.compactRevision = compactRevision
        self.leader = leader
        self.cause = cause
    }

    /// The status a server sends for this error.
    public var status: Status {
        Status(
            code: self.code,
            message: self.message,
            holder: self.holder,
            highestToken: self.highestToken,
            compactRevision: self.compactRevision,
            leader: self.leader
        )
    }

    public var description: String { "\(self.code): \(self.message)" }

    public static func == (lhs: LeaseholdError, rhs: LeaseholdError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.holder == rhs.holder
            && lhs.highestToken == rhs.highestToken && lhs.compactRevision == rhs.compactRevision
            && lhs.leader == rhs.leader
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.message)
        hasher.combine(self.holder)
        hasher.combine(self.highestToken)
        hasher.combine(self.compactRevision)
        hasher.combine(self.leader)
    }
}

/// The last word of a call: `leasehold.v1.Status`.
public struct Status: Hashable, Sendable {
    public var code: LeaseholdError.Code
    public var message: String
    public var holder: LockInfo?
    public var highestToken: UInt64
    public var compactRevision: UInt64
    /// `HOST:PORT` of the active node, set with ``LeaseholdError/Code/unavailable`` by a standby.
    public var leader: String

    /// Creates a status.
    public init(
        code: LeaseholdError.Code,
        message: String = "",
        holder: LockInfo? = nil,
        highestToken: UInt64 = 0,
        compactRevision: UInt64 = 0,
        leader: String = ""
    ) {
        self.code = code
        self.message = message
        self.holder = holder
        self.highestToken = highestToken
        self.compactRevision = compactRevision
        self.leader = leader
    }

    /// A successful end of a call.
    public static let ok = Status(code: .ok)

    /// The error this status stands for, or `nil` for ``LeaseholdError/Code/ok``.
    public var error: LeaseholdError? {
        guard self.code != .ok else { return nil }
        return LeaseholdError(
            code: self.code,
            message: self.message,
            holder: self.holder,
            highestToken: self.highestToken,
            compactRevision: self.compactRevision,
            leader: self.leader
        )
    }
}
