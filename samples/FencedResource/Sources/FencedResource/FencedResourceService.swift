public import FencedResourceWire
public import LeaseholdRPC
import LeaseholdWire
public import Logging

/// The sample service `fencedresource.v1.FencedResource` (docs/protocol.md): named resources that accept a write only
/// under a fencing token at least as high as any they have accepted, durable in their own SQLite file.
///
/// It registers on the RPC layer like any other service, so its connections begin with `Hello` too. With a
/// `validator` it also asks the lock server about every token a resource has not seen yet, and refuses one that is
/// no longer its lock key's current grant, even if no newer holder has written.
///
/// ```swift
/// let validator = LockServerValidator(configuration: try .init(address: "127.0.0.1:7420"))
/// let service = try FencedResourceService(path: "fenced.db", validator: validator, logger: logger)
/// let server = RPCServer(configuration: .init(host: "127.0.0.1", port: 7430), services: [service], logger: logger)
/// try await server.start()
/// // …
/// await server.stop()
/// await service.close()
/// ```
public final class FencedResourceService: RPCService {
    private let database: ResourceDatabase
    private let validator: (any FencingTokenValidator)?
    private let logger: Logger

    /// Opens (or creates) the service's SQLite file, in WAL mode with `synchronous=FULL`.
    /// - Parameters:
    ///   - path: The SQLite file.
    ///   - validator: Asks the lock server about tokens a resource has not seen yet; `nil` trusts any token that is
    ///     not lower than the highest.
    ///   - logger: Where refusals and failures are logged.
    /// - Throws: When the file cannot be opened or was written by a newer version.
    public init(path: String, validator: (any FencingTokenValidator)? = nil, logger: Logger) throws {
        self.database = try ResourceDatabase(path: path)
        self.validator = validator
        self.logger = logger
    }

    /// `Write` and `Read`.
    public var methods: [RPCMethod] {
        [
            .unary(FencedResourceMethod.write) { (request: FencedWriteRequest, context) in
                try await self.write(request, logger: context.logger)
            },
            .unary(FencedResourceMethod.read) { (request: FencedReadRequest, _) in
                try await self.read(request)
            },
        ]
    }

    /// Writes a resource if the token passes the fence; the write is durable when this returns.
    /// - Parameters:
    ///   - request: The resource, token, data and lock key.
    ///   - logger: Where to log the decision; the service's logger by default.
    /// - Returns: The resource's new version and the accepted token.
    /// - Throws: ``LeaseholdError``: `STALE_FENCING_TOKEN` with ``LeaseholdError/highestToken`` when the token is
    ///   lower than the highest accepted or the lock server says it is not current; `INVALID_ARGUMENT` for an empty
    ///   resource (or lock key, when validating); `UNAVAILABLE` when the lock server cannot answer; `INTERNAL` when
    ///   the file cannot be written.
    public func write(_ request: FencedWriteRequest, logger: Logger? = nil) async throws -> FencedWriteResponse {
        let logger = logger ?? self.logger
        guard !request.resource.isEmpty else {
            throw LeaseholdError(code: .invalidArgument, message: "resource must not be empty")
        }
        if let validator = self.validator {
            guard !request.lockKey.isEmpty else {
                throw LeaseholdError(
                    code: .invalidArgument,
                    message: "lock_key must name the lock the token was granted on: this server validates tokens"
                )
            }
            // Ask the lock server outside the writer, so a slow answer delays no other write. The transaction below
            // checks again, so a writer that overtook this one meanwhile still wins.
            let highest = try await self.storage { try await self.database.highestToken(of: request.resource) }
            let outcome: FenceGuard.Outcome
            do {
                outcome = try await FenceGuard.admit(
                    request.fencingToken,
                    against: highest,
                    lockKey: request.lockKey,
                    validator: validator
                )
            } catch {
                logger.info(
                    "cannot validate a fencing token",
                    metadata: ["lock_key": "\(request.lockKey)", "error": "\(error)"]
                )
                throw LeaseholdError(
                    code: .unavailable,
                    message: "cannot validate fencing token \(request.fencingToken) with the lock "
                        + "server: \(error)",
                    cause: error
                )
            }
            try self.refuseUnlessAccepted(outcome, request, logger: logger)
        }
        let result = try await self.storage {
            try await self.database.write(
                resource: request.resource,
                fencingToken: request.fencingToken,
                data: request.data
            )
        }
        switch result {
        case .written(let version):
            logger.debug(
                "write accepted",
                metadata: [
                    "resource": "\(request.resource)", "token": "\(request.fencingToken)", "version": "\(version)",
                ]
            )
            return FencedWriteResponse(version: version, acceptedToken: request.fencingToken)
        case .refused(let outcome):
            try self.refuseUnlessAccepted(outcome, request, logger: logger)
            preconditionFailure("the database refused an accepted token")
        }
    }

    /// Reads a resource.
    /// - Parameter request: The resource.
    /// - Returns: Its data, version and highest accepted token.
    /// - Throws: ``LeaseholdError``: `NOT_FOUND` for a resource never written, `INVALID_ARGUMENT` for an empty name.
    public func read(_ request: FencedReadRequest) async throws -> FencedReadResponse {
        guard !request.resource.isEmpty else {
            throw LeaseholdError(code: .invalidArgument, message: "resource must not be empty")
        }
        guard let row = try await self.storage({ try await self.database.read(request.resource) }) else {
            throw LeaseholdError(code: .notFound, message: "no resource named \(request.resource)")
        }
        return FencedReadResponse(data: row.data, version: row.version, highestToken: row.highestToken)
    }

    /// Closes the SQLite file; later calls fail with `UNAVAILABLE`. Stop the ``RPCServer`` first.
    public func close() async {
        await self.database.close()
    }

    // MARK: - Internal

    private func refuseUnlessAccepted(
        _ outcome: FenceGuard.Outcome,
        _ request: FencedWriteRequest,
        logger: Logger
    ) throws {
        guard let error = outcome.error(token: request.fencingToken, resource: request.resource) else { return }
        logger.debug(
            "write refused",
            metadata: [
                "resource": "\(request.resource)", "token": "\(request.fencingToken)",
                "highest_token": "\(error.highestToken)", "outcome": "\(outcome)",
            ]
        )
        throw error
    }

    /// Runs a database call, turning its failures into ``LeaseholdError``s.
    private func storage<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ResourceDatabaseClosed {
            throw LeaseholdError(code: .unavailable, message: "the fenced resource is closed", cause: error)
        } catch {
            self.logger.info("storage failed", metadata: ["error": "\(error)"])
            throw LeaseholdError(code: .internal, message: "storage failed: \(error)", cause: error)
        }
    }
}
