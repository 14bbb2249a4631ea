public import LeaseholdClient
public import LeaseholdCore
public import LeaseholdRPC
public import LeaseholdWire

/// A session driven call by call over a raw connection: it sends keepalives only when told, so a test controls
/// exactly when it would expire.
public struct RawSession: Sendable {
    public let connection: RPCConnection
    public let info: SessionInfo

    public static func open(
        _ configuration: LeaseholdClient.Configuration,
        ttl: Duration = .seconds(5)
    ) async throws -> RawSession {
        let connection = try await RPCConnection.connect(
            host: configuration.host,
            port: configuration.port,
            hello: HelloRequest(token: configuration.token)
        )
        let info = try await connection.unary(LeaseholdMethod.openSession, OpenSessionRequest(ttl: ttl, name: "raw"))
        return RawSession(connection: connection, info: info)
    }

    public var id: SessionID { self.info.sessionID }

    public func acquire(_ key: String, wait: Duration = .zero) async throws -> LockInfo {
        let response = try await self.connection.unary(
            LeaseholdMethod.acquire,
            AcquireRequest(sessionID: self.id, key: key, wait: wait)
        )
        return response.lock!
    }

    public func release(_ lock: LockInfo) async throws -> UInt64 {
        let response = try await self.connection.unary(
            LeaseholdMethod.release,
            ReleaseRequest(sessionID: self.id, key: lock.key, fencingToken: lock.fencingToken)
        )
        return response.revision
    }

    public func keepAlive() async throws -> KeepAliveResponse {
        try await self.connection.unary(LeaseholdMethod.keepAlive, KeepAliveRequest(sessionID: self.id))
    }

    public func close() async { await self.connection.close() }
}

/// The error a call threw, as a `LeaseholdError`.
public func leaseholdError(_ body: () async throws -> Void) async -> LeaseholdError? {
    do {
        try await body()
        return nil
    } catch let error as LeaseholdError {
        return error
    } catch {
        return LeaseholdError(code: .unknown, message: "\(error)")
    }
}
