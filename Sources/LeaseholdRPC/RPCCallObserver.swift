public import LeaseholdWire

/// Told when each call ends, and when a connection is refused or cut by one of the server's bounds, for metrics.
///
/// An observer names the methods it counts one by one in ``methodNames``; the server reads them once, when it is
/// created, and from then on tells a call's method as an index into them, so that counting a call is an array
/// index rather than a lookup of its name. Any other method (unknown to the server, empty, or served but not
/// named) comes as `methodNames.count`.
///
/// ``callEnded(method:code:duration:)`` runs on the connection's event loop, once per call, right where the call's
/// last frame is written; an implementation must be cheap and must not block (count into atomics or per-loop
/// storage, take no lock).
///
/// ```swift
/// var configuration = RPCServer.Configuration(host: "127.0.0.1", port: 0)
/// configuration.observer = myCounters  // myCounters.methodNames == LeaseholdMethod.allNames, say
/// ```
public protocol RPCCallObserver: Sendable {
    /// The full names of the methods counted one by one, such as `leasehold.v1.Leasehold/Acquire`; read once, when
    /// the server is created.
    var methodNames: [String] { get }

    /// A call ended with `code`.
    /// - Parameters:
    ///   - method: The index of the call's method in ``methodNames``, or `methodNames.count` for any other method
    ///     (unknown, empty for a refused call, or not named there).
    ///   - code: The status of the call's last frame.
    ///   - duration: From the call's first frame being read to its last frame being written.
    func callEnded(method: Int, code: LeaseholdError.Code, duration: Duration)

    /// A connection was refused or closed by one of the server's bounds (on its event loop, as calls end).
    func connectionRefused(_ reason: ConnectionRefusal)
}

extension RPCCallObserver {
    /// Counts nothing: an observer of calls only.
    public func connectionRefused(_ reason: ConnectionRefusal) {}
}

/// Why the server refused or closed a connection before the client closed it.
public enum ConnectionRefusal: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Past `--max-connections`.
    case maxConnections
    /// No successful `Hello` within `--hello-timeout`.
    case helloTimeout
    /// A frame started and not completed within `--frame-timeout`.
    case frameTimeout
    /// The TLS handshake failed (a plaintext client, an untrusted or missing client certificate).
    case tlsHandshake

    /// The metric label: `max_connections`, `hello_timeout`, `frame_timeout` or `tls_handshake`.
    public var description: String {
        switch self {
        case .maxConnections: "max_connections"
        case .helloTimeout: "hello_timeout"
        case .frameTimeout: "frame_timeout"
        case .tlsHandshake: "tls_handshake"
        }
    }
}
