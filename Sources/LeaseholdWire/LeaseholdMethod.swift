/// The method names of service `leasehold.v1.Leasehold` (SPEC.md §3), as ``Frame/method`` carries them.
///
/// ```swift
/// let frame = Frame(callID: 1, method: LeaseholdMethod.acquire, payload: request.encoded())
/// ```
public enum LeaseholdMethod {
    /// The protocol version this module speaks, sent in ``HelloRequest/protocolVersion``.
    public static let protocolVersion: UInt32 = 1

    /// The fully qualified service name.
    public static let service = "leasehold.v1.Leasehold"

    /// ``HelloRequest`` → ``HelloResponse``; the first call on every connection.
    public static let hello = "leasehold.v1.Leasehold/Hello"
    /// ``OpenSessionRequest`` → ``SessionInfo``.
    public static let openSession = "leasehold.v1.Leasehold/OpenSession"
    /// ``ResumeSessionRequest`` → ``SessionInfo``.
    public static let resumeSession = "leasehold.v1.Leasehold/ResumeSession"
    /// ``KeepAliveRequest`` → ``KeepAliveResponse``.
    public static let keepAlive = "leasehold.v1.Leasehold/KeepAlive"
    /// ``CloseSessionRequest`` → ``CloseSessionResponse``.
    public static let closeSession = "leasehold.v1.Leasehold/CloseSession"
    /// ``AcquireRequest`` → ``AcquireResponse``.
    public static let acquire = "leasehold.v1.Leasehold/Acquire"
    /// ``ReleaseRequest`` → ``ReleaseResponse``.
    public static let release = "leasehold.v1.Leasehold/Release"
    /// ``ForceReleaseRequest`` → ``ForceReleaseResponse``; needs the `admin` role.
    public static let forceRelease = "leasehold.v1.Leasehold/ForceRelease"
    /// ``DescribeRequest`` → ``DescribeResponse``.
    public static let describe = "leasehold.v1.Leasehold/Describe"
    /// ``ValidateRequest`` → ``ValidateResponse``.
    public static let validate = "leasehold.v1.Leasehold/Validate"
    /// ``ListRequest`` → ``ListResponse``.
    public static let list = "leasehold.v1.Leasehold/List"
    /// ``WatchRequest`` → a stream of ``WatchResponse``.
    public static let watch = "leasehold.v1.Leasehold/Watch"

    /// Every method of the service, in the order of the `.proto` file.
    public static let all: [String] = [
        hello, openSession, resumeSession, keepAlive, closeSession, acquire, release, forceRelease, describe,
        validate, list, watch,
    ]
}
