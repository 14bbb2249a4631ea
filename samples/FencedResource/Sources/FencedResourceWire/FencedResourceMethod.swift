public import LeaseholdWire

/// The methods of the sample service `fencedresource.v1.FencedResource`, each with its request and response types.
///
/// The sample runs on the same RPC layer, so its connections also begin with ``LeaseholdMethod/hello``.
public enum FencedResourceMethod {
    /// The fully qualified service name.
    public static let service = "fencedresource.v1.FencedResource"

    /// Writes a resource with a fencing token; stale tokens are refused.
    public static let write = MethodDescriptor<FencedWriteRequest, FencedWriteResponse>(
        "fencedresource.v1.FencedResource/Write"
    )
    /// Reads a resource.
    public static let read = MethodDescriptor<FencedReadRequest, FencedReadResponse>(
        "fencedresource.v1.FencedResource/Read"
    )

    /// The name of every method of the service, in the order of the `.proto` file.
    public static let allNames: [String] = [write.name, read.name]
}
