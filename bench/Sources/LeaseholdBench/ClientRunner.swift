import LeaseholdRPC
import LeaseholdWire
import NIOCore

/// Runs `count` client loops as child tasks for one ``Window`` and measures CPU over the window itself.
///
/// Each client owns its histograms and counters (no sharing on the hot path) and returns them when the window has
/// closed; the caller merges them.
///
/// With `connection`, client *i* first moves to the event loop of its connection (the load generator runs Swift
/// concurrency on the event loops, see `Main`): its calls then start and resume on the thread that reads and writes
/// its socket, as a client built on NIO would, instead of crossing between the two loops on every call.
func runClients<Result: Sendable>(
    count: Int, window: Window, serverPID: Int32?, connection: (@Sendable (Int) -> RPCConnection)? = nil,
    _ client: @escaping @Sendable (Int) async -> Result
) async -> ([Result], ResourceUsage) {
    await withTaskGroup(of: (Int, Result).self) { group in
        for index in 0..<count {
            group.addTask {
                // Resuming from a future completed on the loop continues the task on that loop, and it stays there
                // while every await it makes is completed on the same loop.
                if let loop = connection?(index).eventLoop { try? await loop.submit {}.get() }
                return (index, await client(index))
            }
        }
        try? await sleep(until: window.measureStart)
        let meter = ResourceMeter(serverPID: serverPID)
        try? await sleep(until: window.measureEnd)
        let usage = meter.finish()
        var results = [Result?](repeating: nil, count: count)
        for await (index, result) in group { results[index] = result }
        return (results.map { $0! }, usage)
    }
}

/// Whether an error means the connection is gone, so that a client loop should stop rather than retry.
func isConnectionLost(_ error: any Error) -> Bool {
    (error as? LeaseholdError)?.code == .unavailable
}
