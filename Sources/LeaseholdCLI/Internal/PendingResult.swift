import Synchronization

/// Work running in a task of its own, whose result a polling loop can look at without waiting for it.
///
/// `leasehold lock` must never wait on a call that cannot be interrupted (a reconnect to a server that stopped
/// answering can take the whole connect timeout, and cancellation does not cut it short), so it starts such calls
/// here and keeps checking its signals and deadlines meanwhile.
final class PendingResult<Success: Sendable>: Sendable {
    private let result = Mutex<Result<Success, any Error>?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts `body`.
    init(_ body: @escaping @Sendable () async throws -> Success) {
        let task = Task {
            let result: Result<Success, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            self.result.withLock { $0 = result }
        }
        self.task.withLock { $0 = task }
    }

    /// The result once `body` has finished.
    var value: Result<Success, any Error>? { self.result.withLock { $0 } }

    /// Cancels `body`; its result still arrives, probably as a `CancellationError`.
    func cancel() { self.task.withLock { $0?.cancel() } }

    /// Waits for the result, polling every `interval`, at most until `deadline`.
    /// - Returns: The result, or `nil` if `deadline` came first (`body` is then cancelled and left behind).
    func value(
        before deadline: ContinuousClock.Instant,
        polling interval: Duration = .milliseconds(10)
    ) async -> Result<Success, any Error>? {
        while ContinuousClock.now < deadline {
            if let value = self.value { return value }
            try? await Task.sleep(for: interval)
        }
        self.cancel()
        return self.value
    }
}
