import LeaseholdCore
public import LeaseholdRPC
public import LeaseholdStore
import LeaseholdWire

/// `leasehold.v1.Leasehold` on the RPC layer: decodes requests, calls ``LockService``, encodes answers.
/// `Hello` is answered by the RPC layer itself.
public struct LeaseholdService: RPCService {
    let locks: LockService
    let store: any Store

    /// Creates the service.
    /// - Parameters:
    ///   - locks: The lock state.
    ///   - store: The store, for reading the event log.
    public init(locks: LockService, store: any Store) {
        self.locks = locks
        self.store = store
    }

    /// Every unary method answers from the lock service's completion, with no task per call: once what the answer
    /// observed is durable (at once when no commit is in flight).
    public var methods: [RPCMethod] {
        let locks = self.locks
        return [
            .unaryCallback(LeaseholdMethod.openSession) { (request: OpenSessionRequest, context, respond) in
                locks.openSession(
                    ttl: request.ttl, name: request.name, owner: context.principal.name, connection: context.connectionID,
                    completion: respond)
                return nil
            },
            .unaryCallback(LeaseholdMethod.resumeSession) { (request: ResumeSessionRequest, context, respond) in
                locks.resumeSession(request.sessionID, secret: request.secret, connection: context.connectionID, completion: respond)
                return nil
            },
            .unaryCallback(LeaseholdMethod.keepAlive) { (request: KeepAliveRequest, context, respond) in
                locks.keepAlive(request.sessionID, connection: context.connectionID, completion: respond)
                return nil
            },
            .unaryCallback(LeaseholdMethod.closeSession) { (request: CloseSessionRequest, context, respond) in
                locks.closeSession(request.sessionID, connection: context.connectionID) { result in
                    respond(result.map { CloseSessionResponse(released: UInt32(clamping: $0)) })
                }
                return nil
            },
            // A queued Acquire leaves its queue when the call ends first (CANCEL, deadline, connection closed).
            .unaryCallback(LeaseholdMethod.acquire) { (request: AcquireRequest, context, respond) in
                locks.acquire(
                    key: request.key, session: request.sessionID, wait: request.wait, connection: context.connectionID
                ) { result in
                    respond(result.map { AcquireResponse(lock: $0) })
                }
            },
            .unaryCallback(LeaseholdMethod.release) { (request: ReleaseRequest, context, respond) in
                locks.release(
                    key: request.key, session: request.sessionID, fencingToken: request.fencingToken,
                    connection: context.connectionID
                ) { result in
                    respond(result.map { ReleaseResponse(revision: $0) })
                }
                return nil
            },
            .unaryCallback(LeaseholdMethod.forceRelease) { (request: ForceReleaseRequest, context, respond) in
                locks.forceRelease(key: request.key, reason: request.reason, principal: context.principal) { result in
                    respond(result.map { ForceReleaseResponse(released: $0.0, revision: $0.1) })
                }
                return nil
            },
            .unaryCallback(LeaseholdMethod.describe) { (request: DescribeRequest, _, respond) in
                locks.describe(key: request.key) { result in
                    respond(result.map { description in
                        DescribeResponse(
                            held: description.holder != nil, lock: description.holder,
                            waiters: UInt32(clamping: description.queue.count), queue: description.queue,
                            revision: description.revision)
                    })
                }
                return nil
            },
            .unaryCallback(LeaseholdMethod.validate) { (request: ValidateRequest, _, respond) in
                locks.validate(key: request.key, fencingToken: request.fencingToken) { result in
                    respond(result.map { ValidateResponse(valid: $0.valid, lock: $0.holder, revision: $0.revision) })
                }
                return nil
            },
            .unaryCallback(LeaseholdMethod.list) { (request: ListRequest, _, respond) in
                locks.list(prefix: request.prefix, limit: request.limit == 0 ? nil : Int(request.limit)) { result in
                    respond(result.map { ListResponse(locks: $0.locks, revision: $0.revision) })
                }
                return nil
            },
            .serverStreaming(LeaseholdMethod.watch) { (request: WatchRequest, _, writer: RPCStreamWriter<WatchResponse>) in
                try await self.watch(request, writer: writer)
            },
        ]
    }

    /// Streams history from the event log up to the seam, then live events from the hub: no gap, no duplicate.
    private func watch(_ request: WatchRequest, writer: RPCStreamWriter<WatchResponse>) async throws {
        let hub = self.locks.hub
        let (id, seam) = hub.subscribe(prefix: request.prefix, writer: writer)
        defer { hub.unsubscribe(id) }
        let from = request.startRevision == 0 ? seam + 1 : request.startRevision
        var next = from
        while next <= seam {
            let page = try await self.store.events(prefix: request.prefix, from: next, limit: 1_000)
            if next < page.compactRevision {
                throw LeaseholdError(
                    code: .compacted,
                    message: "revision \(next) is compacted; the oldest kept is \(page.compactRevision)",
                    compactRevision: page.compactRevision)
            }
            let events = page.events.prefix { $0.revision <= seam }
            if let last = events.last {
                try writer.send(WatchResponse(events: Array(events), revision: last.revision))
                next = last.revision + 1
            }
            if events.count < 1_000 { break }
        }
        hub.goLive(id, from: from)
        await hub.waitUntilEnded(id)
        try Task.checkCancellation()
        if writer.isOpen {
            throw LeaseholdError(code: .resourceExhausted, message: "the watcher fell too far behind")
        }
    }
}
