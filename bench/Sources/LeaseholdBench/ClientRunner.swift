import LeaseholdWire

/// Runs `options.clients` clients as child tasks for one ``Window`` and measures CPU over the window itself (of the
/// server and the store when `options` gives their process ids).
///
/// Each client owns its histograms and counters (no sharing on the hot path) and returns them when the window has
/// closed; the caller merges them. The closed-loop workloads make each client a ``ClosedLoopClient`` on its
/// connection's event loop: the child task only waits for it.
func runClients<Result: Sendable>(
    _ options: CommonOptions,
    window: Window,
    _ client: @escaping @Sendable (Int) async -> Result
) async -> ([Result], ResourceUsage) {
    let count = options.clients
    return await withTaskGroup(of: (Int, Result).self) { group in
        for index in 0..<count {
            group.addTask { (index, await client(index)) }
        }
        try? await sleep(until: window.measureStart)
        let meter = ResourceMeter(serverPID: options.serverPID, storePID: options.storePID)
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
