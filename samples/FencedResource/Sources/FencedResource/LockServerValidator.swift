public import LeaseholdClient
import LeaseholdWire
import Synchronization

/// Validates tokens with a Leasehold server that it connects to on first use, and again after a failed attempt,
/// so that a resource server can start before its lock server does.
///
/// ```swift
/// let validator = LockServerValidator(configuration: try .init(address: "127.0.0.1:7420"))
/// let service = try FencedResourceService(path: "fenced.db", validator: validator, logger: logger)
/// ```
public final class LockServerValidator: FencingTokenValidator {
    private enum State {
        case idle
        case connecting(Task<LeaseholdClient, any Error>)
        case connected(LeaseholdClient)
        case closed
    }

    /// Where the lock server is.
    public let configuration: LeaseholdClient.Configuration
    private let state = Mutex(State.idle)

    /// Creates a validator; nothing connects until the first ``isCurrentGrant(lockKey:fencingToken:)``.
    /// - Parameter configuration: The lock server's address, and the bearer token if it needs one.
    public init(configuration: LeaseholdClient.Configuration) {
        self.configuration = configuration
    }

    /// Asks the lock server with `Validate`.
    /// - Parameters:
    ///   - lockKey: The key the token was granted on.
    ///   - fencingToken: The token to check.
    /// - Returns: Whether the token is the key's current grant.
    /// - Throws: ``LeaseholdError`` with `UNAVAILABLE` when no lock server answers as the active node within the
    ///   configuration's `failoverTimeout` (keep it below the resource's callers' deadlines).
    public func isCurrentGrant(lockKey: String, fencingToken: UInt64) async throws -> Bool {
        try await self.client().isCurrentGrant(lockKey: lockKey, fencingToken: fencingToken)
    }

    /// Closes the connection to the lock server; later checks throw.
    public func close() async {
        let previous = self.state.withLock { state in
            defer { state = .closed }
            return state
        }
        switch previous {
        case .connected(let client): await client.close()
        case .connecting(let task): task.cancel()
        case .idle, .closed: break
        }
    }

    private func client() async throws -> LeaseholdClient {
        enum Next {
            case ready(LeaseholdClient)
            case wait(Task<LeaseholdClient, any Error>)
        }
        let next: Next = try self.state.withLock { state in
            switch state {
            case .connected(let client):
                return .ready(client)
            case .connecting(let task):
                return .wait(task)
            case .closed:
                throw LeaseholdError(code: .unavailable, message: "the lock-server validator is closed")
            case .idle:
                let configuration = self.configuration
                let task = Task { try await LeaseholdClient.connect(configuration) }
                state = .connecting(task)
                return .wait(task)
            }
        }
        switch next {
        case .ready(let client): return client
        case .wait(let task): return try await self.awaitConnection(task)
        }
    }

    /// Waits for a connection attempt; makes its client the current one, or resets for the next attempt.
    private func awaitConnection(_ task: Task<LeaseholdClient, any Error>) async throws -> LeaseholdClient {
        let client: LeaseholdClient
        do {
            client = try await task.value
        } catch {
            self.state.withLock { state in
                if case .connecting(let current) = state, current == task { state = .idle }
            }
            throw error
        }
        let isClosed = self.state.withLock { state -> Bool in
            switch state {
            case .connecting(let current) where current == task:
                state = .connected(client)
                return false
            case .closed:
                return true
            case .idle, .connecting, .connected:
                return false
            }
        }
        if isClosed {
            await client.close()
            throw LeaseholdError(code: .unavailable, message: "the lock-server validator is closed")
        }
        return client
    }
}
