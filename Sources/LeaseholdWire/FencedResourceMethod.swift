/// The method names of the sample service `fencedresource.v1.FencedResource` (SPEC.md §4).
///
/// The sample runs on the same RPC layer, so its connections also begin with ``LeaseholdMethod/hello``.
public enum FencedResourceMethod {
    /// The fully qualified service name.
    public static let service = "fencedresource.v1.FencedResource"

    /// ``FencedWriteRequest`` → ``FencedWriteResponse``.
    public static let write = "fencedresource.v1.FencedResource/Write"
    /// ``FencedReadRequest`` → ``FencedReadResponse``.
    public static let read = "fencedresource.v1.FencedResource/Read"

    /// Every method of the service, in the order of the `.proto` file.
    public static let all: [String] = [write, read]
}
