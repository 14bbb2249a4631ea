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

    public var methods: [RPCMethod] {
        let locks = self.locks
        return [
            .unary(LeaseholdMethod.openSession) { (request: OpenSessionRequest, context) in
                try await locks.openSession(
                    ttl: request.ttl, name: request.name, owner: context.principal.name, connection: context.connectionID)
            },
            .unary(LeaseholdMethod.resumeSession) { (request: ResumeSessionRequest, context) in
                try await locks.resumeSession(request.sessionID, secret: request.secret, connection: context.connectionID)
            },
            // KeepAlive only takes the state lock: it runs on the event loop, the hot path of every session.
            .unaryInline(LeaseholdMethod.keepAlive) { (request: KeepAliveRequest, context) in
                try locks.keepAlive(request.sessionID, connection: context.connectionID)
            },
            .unary(LeaseholdMethod.closeSession) { (request: CloseSessionRequest, context) in
                let released = try await locks.closeSession(request.sessionID, connection: context.connectionID)
                return CloseSessionResponse(released: UInt32(clamping: released))
            },
            .unary(LeaseholdMethod.acquire) { (request: AcquireRequest, context) in
                let lock = try await locks.acquire(
                    key: request.key, session: request.sessionID, wait: request.wait, connection: context.connectionID)
                return AcquireResponse(lock: lock)
            },
            .unary(LeaseholdMethod.release) { (request: ReleaseRequest, context) in
                let revision = try await locks.release(
                    key: request.key, session: request.sessionID, fencingToken: request.fencingToken,
                    connection: context.connectionID)
                return ReleaseResponse(revision: revision)
            },
            .unary(LeaseholdMethod.forceRelease) { (request: ForceReleaseRequest, context) in
                let (lock, revision) = try await locks.forceRelease(
                    key: request.key, reason: request.reason, principal: context.principal)
                return ForceReleaseResponse(released: lock, revision: revision)
            },
            .unary(LeaseholdMethod.describe) { (request: DescribeRequest, _) in
                let description = try await locks.describe(key: request.key)
                return DescribeResponse(
                    held: description.holder != nil, lock: description.holder,
                    waiters: UInt32(clamping: description.queue.count), queue: description.queue,
                    revision: description.revision)
            },
            .unary(LeaseholdMethod.validate) { (request: ValidateRequest, _) in
                let answer = try await locks.validate(key: request.key, fencingToken: request.fencingToken)
                return ValidateResponse(valid: answer.valid, lock: answer.holder, revision: answer.revision)
            },
            .unary(LeaseholdMethod.list) { (request: ListRequest, _) in
                let answer = try await locks.list(prefix: request.prefix, limit: request.limit == 0 ? nil : Int(request.limit))
                return ListResponse(locks: answer.locks, revision: answer.revision)
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
