public import FencedResourceWire
public import LeaseholdRPC
import LeaseholdWire

/// A client of `fencedresource.v1.FencedResource`: `Write` and `Read` over one ``RPCConnection``.
///
/// ```swift
/// let resource = try await FencedResourceClient.connect(host: "127.0.0.1", port: 7430)
/// let lock = try await session.acquire("orders/42")
/// try await resource.write("orders/42", data: Array("paid".utf8), fencingToken: lock.fencingToken, lockKey: lock.key)
/// ```
public final class FencedResourceClient: Sendable {
    /// The connection the calls go over.
    public let connection: RPCConnection
    /// The deadline of each call.
    public let callTimeout: Duration

    /// Wraps a connection that has said `Hello`.
    /// - Parameters:
    ///   - connection: A connection to a server that serves the sample.
    ///   - callTimeout: The deadline of each call.
    public init(connection: RPCConnection, callTimeout: Duration = .seconds(10)) {
        self.connection = connection
        self.callTimeout = callTimeout
    }

    /// Connects and says `Hello`.
    /// - Parameters:
    ///   - host: The server's host.
    ///   - port: The server's port.
    ///   - token: A bearer token, for servers with an auth file.
    ///   - clientName: A name for the server's logs.
    ///   - callTimeout: The deadline of each call.
    /// - Returns: A connected client.
    /// - Throws: ``LeaseholdError`` with `UNAVAILABLE` when the server cannot be reached.
    public static func connect(
        host: String,
        port: Int,
        token: String = "",
        clientName: String = "fenced-resource-client",
        callTimeout: Duration = .seconds(10)
    ) async throws -> FencedResourceClient {
        let connection = try await RPCConnection.connect(
            host: host,
            port: port,
            hello: HelloRequest(clientName: clientName, token: token)
        )
        return FencedResourceClient(connection: connection, callTimeout: callTimeout)
    }

    /// Writes a resource under a fencing token.
    /// - Parameters:
    ///   - resource: The resource.
    ///   - data: The new contents.
    ///   - fencingToken: The writer's lock's fencing token.
    ///   - lockKey: The key the token was granted on.
    /// - Returns: The resource's new version and the accepted token.
    /// - Throws: ``LeaseholdError``: `STALE_FENCING_TOKEN` with ``LeaseholdError/highestToken``, and the others of
    ///   ``FencedResourceService/write(_:logger:)``.
    @discardableResult
    public func write(
        _ resource: String,
        data: [UInt8],
        fencingToken: UInt64,
        lockKey: String
    ) async throws -> FencedWriteResponse {
        try await self.connection.unary(
            FencedResourceMethod.write,
            FencedWriteRequest(resource: resource, fencingToken: fencingToken, data: data, lockKey: lockKey),
            timeout: self.callTimeout
        )
    }

    /// Reads a resource.
    /// - Parameter resource: The resource.
    /// - Returns: Its data, version and highest accepted token.
    /// - Throws: ``LeaseholdError`` with `NOT_FOUND` for a resource never written.
    public func read(_ resource: String) async throws -> FencedReadResponse {
        try await self.connection.unary(
            FencedResourceMethod.read,
            FencedReadRequest(resource: resource),
            timeout: self.callTimeout
        )
    }

    /// Closes the connection.
    public func close() async {
        await self.connection.close()
    }
}
