/// A unary method of an RPC service, with the types of its request and response.
///
/// Registration (`RPCMethod.unary`, `.unaryCallback`) and calls (`RPCConnection.unary`) take a descriptor, so a
/// request of the wrong type, or a response read as the wrong type, does not compile:
///
/// ```swift
/// let response = try await connection.unary(LeaseholdMethod.acquire, AcquireRequest(sessionID: id, key: "jobs/1"))
/// print(response.lock.fencingToken)  // response is an AcquireResponse
/// ```
public struct MethodDescriptor<Request: WireMessage, Response: WireMessage>: Hashable, Sendable {
    /// The full method name as ``Frame/method`` carries it, such as `leasehold.v1.Leasehold/Acquire`.
    public let name: String

    /// Describes the method `name` of some service.
    /// - Parameter name: The full method name, `package.Service/Method`.
    public init(_ name: String) {
        self.name = name
    }
}

/// A server-streaming method: one request, a stream of responses, then a status.
///
/// A separate type from ``MethodDescriptor``, so that a stream cannot be called as a unary method or the reverse.
public struct StreamingMethodDescriptor<Request: WireMessage, Response: WireMessage>: Hashable, Sendable {
    /// The full method name as ``Frame/method`` carries it, such as `leasehold.v1.Leasehold/Watch`.
    public let name: String

    /// Describes the streaming method `name` of some service.
    /// - Parameter name: The full method name, `package.Service/Method`.
    public init(_ name: String) {
        self.name = name
    }
}
