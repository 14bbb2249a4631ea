import LeaseholdCore
public import LeaseholdRPC
import LeaseholdWire

/// `leasehold.v1.Leasehold` on the RPC layer: the one adapter between the wire and ``LockService``. It decodes
/// requests, calls the lock service, and maps its domain answers to wire messages. `Hello` is answered by the RPC
/// layer itself.
public struct LeaseholdService: RPCService {
    let locks: LockService
    let textLimits: TextLimits

    /// Creates the service.
    /// - Parameters:
    ///   - locks: The lock state.
    ///   - textLimits: Bounds on session names, reasons and prefixes.
    public init(locks: LockService, textLimits: TextLimits = TextLimits()) {
        self.locks = locks
        self.textLimits = textLimits
    }

    /// Every unary method answers from the lock service's completion, with no task per call: once what the answer
    /// observed is durable (at once when no commit is in flight).
    public var methods: [RPCMethod] {
        let locks = self.locks
        let limits = self.textLimits
        return [
            .unaryCallback(LeaseholdMethod.openSession) { request, context, respond in
                if let error = limits.violation(request.name, field: "name", limit: limits.maxSessionNameBytes) {
                    respond(.failure(error))
                    return nil
                }
                locks.openSession(
                    ttl: request.ttl,
                    name: request.name,
                    owner: context.principal.name,
                    connection: context.connectionID
                ) { result in
                    respond(result.map { SessionInfo($0.info, secret: $0.secret) })
                }
                return nil
            },
            .unaryCallback(LeaseholdMethod.resumeSession) { request, context, respond in
                locks.resumeSession(request.sessionID, secret: request.secret, connection: context.connectionID) {
                    result in
                    respond(result.map { SessionInfo($0, secret: []) })
                }
                return nil
            },
            // The most frequent call: answered on the event loop unless a commit is in flight.
            .unary(
                LeaseholdMethod.keepAlive,
                now: { request, context in
                    try locks.keepAliveNow(request.sessionID, connection: context.connectionID)
                        .map { try $0.get() }
                        .map { KeepAliveResponse(ttl: $0.ttl, expiresIn: $0.expiresIn) }
                },
                later: { request, context, respond in
                    locks.keepAlive(request.sessionID, connection: context.connectionID) { result in
                        respond(result.map { KeepAliveResponse(ttl: $0.ttl, expiresIn: $0.expiresIn) })
                    }
                    return nil
                }
            ),
            .unaryCallback(LeaseholdMethod.closeSession) { request, context, respond in
                locks.closeSession(request.sessionID, connection: context.connectionID) { result in
                    respond(result.map { CloseSessionResponse(released: UInt32(clamping: $0)) })
                }
                return nil
            },
            // A queued Acquire leaves its queue when the call ends first (CANCEL, deadline, connection closed).
            // The lock service answers Acquire and Release straight into `respond`: the answer becomes the response
            // in the RPC layer's one closure per call (`answer:`), with no closure of their own.
            .unaryCallback(LeaseholdMethod.acquire, answer: { (lock: LockInfo) in AcquireResponse(lock: lock) }) {
                request,
                context,
                respond in
                locks.acquire(
                    key: request.key,
                    session: request.sessionID,
                    wait: request.wait,
                    connection: context.connectionID,
                    completion: respond
                )
            },
            .unaryCallback(
                LeaseholdMethod.release,
                answer: { (revision: UInt64) in ReleaseResponse(revision: revision) }
            ) {
                request,
                context,
                respond in
                locks.release(
                    key: request.key,
                    session: request.sessionID,
                    fencingToken: request.fencingToken,
                    connection: context.connectionID,
                    completion: respond
                )
                return nil
            },
            .unaryCallback(LeaseholdMethod.forceRelease) { request, context, respond in
                if let error = limits.violation(request.reason, field: "reason", limit: limits.maxReasonBytes) {
                    respond(.failure(error))
                    return nil
                }
                locks.forceRelease(key: request.key, reason: request.reason, principal: context.principal) { result in
                    respond(result.map { ForceReleaseResponse(released: $0.lock, revision: $0.revision) })
                }
                return nil
            },
            .unaryCallback(LeaseholdMethod.describe) { request, _, respond in
                locks.describe(key: request.key) { result in
                    respond(
                        result.map { description in
                            DescribeResponse(
                                held: description.holder != nil,
                                lock: description.holder,
                                waiters: UInt32(clamping: description.queue.count),
                                queue: description.queue,
                                revision: description.revision
                            )
                        }
                    )
                }
                return nil
            },
            .unaryCallback(LeaseholdMethod.validate) { request, _, respond in
                locks.validate(key: request.key, fencingToken: request.fencingToken) { result in
                    respond(result.map { ValidateResponse(valid: $0.valid, lock: $0.holder, revision: $0.revision) })
                }
                return nil
            },
            .unaryCallback(LeaseholdMethod.list) { request, _, respond in
                if let error = limits.violation(request.prefix, field: "prefix", limit: limits.maxPrefixBytes) {
                    respond(.failure(error))
                    return nil
                }
                locks.list(prefix: request.prefix, limit: request.limit == 0 ? nil : Int(request.limit)) { result in
                    respond(result.map { ListResponse(locks: $0.locks, revision: $0.revision) })
                }
                return nil
            },
            .serverStreaming(LeaseholdMethod.watch) { request, _, writer in
                if let error = limits.violation(request.prefix, field: "prefix", limit: limits.maxPrefixBytes) {
                    throw error
                }
                try await locks.hub.stream(prefix: request.prefix, from: request.startRevision, to: writer)
            },
        ]
    }
}

extension SessionInfo {
    /// The wire form of a session; `secret` only from `OpenSession`.
    init(_ info: LockTable.SessionDescription, secret: [UInt8]) {
        self.init(
            sessionID: info.id,
            secret: secret,
            ttl: info.ttl,
            expiresIn: info.expiresIn,
            owner: info.owner,
            locks: info.locks
        )
    }
}
