/// The methods of service `leasehold.v1.Leasehold` (docs/protocol.md), each with its request and response types.
///
/// ```swift
/// let response = try await connection.unary(LeaseholdMethod.acquire, request)  // an AcquireResponse
/// let frame = Frame(callID: 1, method: LeaseholdMethod.acquire.name, payload: request.encoded())
/// ```
public enum LeaseholdMethod {
    /// The protocol version this module speaks, sent in ``HelloRequest/protocolVersion``.
    public static let protocolVersion: UInt32 = 1

    /// The fully qualified service name.
    public static let service = "leasehold.v1.Leasehold"

    /// The first call on every connection; answered by the RPC layer itself.
    public static let hello = MethodDescriptor<HelloRequest, HelloResponse>("leasehold.v1.Leasehold/Hello")
    /// Opens a session; the answer carries its secret.
    public static let openSession = MethodDescriptor<OpenSessionRequest, SessionInfo>(
        "leasehold.v1.Leasehold/OpenSession"
    )
    /// Resumes a session on a new connection, with its secret.
    public static let resumeSession = MethodDescriptor<ResumeSessionRequest, SessionInfo>(
        "leasehold.v1.Leasehold/ResumeSession"
    )
    /// Extends a session's deadline by its TTL.
    public static let keepAlive = MethodDescriptor<KeepAliveRequest, KeepAliveResponse>(
        "leasehold.v1.Leasehold/KeepAlive"
    )
    /// Closes a session, releasing its locks.
    public static let closeSession = MethodDescriptor<CloseSessionRequest, CloseSessionResponse>(
        "leasehold.v1.Leasehold/CloseSession"
    )
    /// Takes a lock, waiting in the key's FIFO queue up to the request's wait.
    public static let acquire = MethodDescriptor<AcquireRequest, AcquireResponse>("leasehold.v1.Leasehold/Acquire")
    /// Releases a lock, with the holder's session and fencing token.
    public static let release = MethodDescriptor<ReleaseRequest, ReleaseResponse>("leasehold.v1.Leasehold/Release")
    /// Ends whoever's hold of a key; needs the `admin` role.
    public static let forceRelease = MethodDescriptor<ForceReleaseRequest, ForceReleaseResponse>(
        "leasehold.v1.Leasehold/ForceRelease"
    )
    /// A key's holder and queue.
    public static let describe = MethodDescriptor<DescribeRequest, DescribeResponse>("leasehold.v1.Leasehold/Describe")
    /// Whether a fencing token is a key's current grant.
    public static let validate = MethodDescriptor<ValidateRequest, ValidateResponse>("leasehold.v1.Leasehold/Validate")
    /// The held locks under a prefix.
    public static let list = MethodDescriptor<ListRequest, ListResponse>("leasehold.v1.Leasehold/List")
    /// The events under a prefix, from a revision on, then live.
    public static let watch = StreamingMethodDescriptor<WatchRequest, WatchResponse>("leasehold.v1.Leasehold/Watch")

    /// The name of every method of the service, in the order of the `.proto` file.
    public static let allNames: [String] = [
        hello.name, openSession.name, resumeSession.name, keepAlive.name, closeSession.name, acquire.name,
        release.name, forceRelease.name, describe.name, validate.name, list.name, watch.name,
    ]
}
