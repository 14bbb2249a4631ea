public import LeaseholdWire

/// Told when each call ends, for metrics.
///
/// ``callEnded(method:code:duration:)`` runs on the connection's event loop, once per call, right where the call's
/// last frame is written; an implementation must be cheap and must not block (count into atomics or per-loop
/// storage, take no lock).
///
/// ```swift
/// var configuration = RPCServer.Configuration(host: "127.0.0.1", port: 0)
/// configuration.observer = myCounters
/// ```
public protocol RPCCallObserver: Sendable {
    /// A call ended with `code`.
    /// - Parameters:
    ///   - method: The method name as the client sent it (it may be unknown or empty for refused calls).
    ///   - code: The status of the call's last frame.
    ///   - duration: From the call's first frame being read to its last frame being written.
    func callEnded(method: String, code: LeaseholdError.Code, duration: Duration)
}
