import NIOCore

/// What a closed-loop client counts besides its own figures.
protocol ClosedLoopResult: Sendable {
    var errors: ErrorTally { get set }
}

/// One client of a closed loop, run as future callbacks on its connection's event loop.
///
/// Each round of calls is started from the callback of the previous round's last answer, in the loop tick that read
/// it: no task is resumed per call and the next request shares that read's flush. The load generator shares the
/// machine's cores with the server, so every microsecond it spends per call is taken from the server (with a task
/// per client it spent about 16 µs per `ping` call over 64 connections, more than the server's 12 µs; most of that
/// is the kernel's, which this does not change, so the gain there is a few percent).
///
/// Confined to its event loop: `round` gets it to record into ``result`` from its callbacks.
final class ClosedLoopClient<Result: ClosedLoopResult> {
    /// The client's own figures, merged by the caller once the window has closed.
    var result: Result
    private let loop: any EventLoop
    private let window: Window
    private let round: (ClosedLoopClient) -> EventLoopFuture<Void>
    private let done: EventLoopPromise<Result>

    private init(
        loop: any EventLoop,
        window: Window,
        result: Result,
        round: @escaping (ClosedLoopClient) -> EventLoopFuture<Void>
    ) {
        self.loop = loop
        self.window = window
        self.result = result
        self.round = round
        self.done = loop.makePromise()
    }

    /// Runs `round` back to back on `loop` until `window` closes, and returns the client's figures.
    ///
    /// A failed round is counted in `errors`; the client stops when its connection is gone and otherwise retries
    /// after 1 ms.
    static func run(
        on loop: any EventLoop,
        window: Window,
        _ result: Result,
        round: @escaping @Sendable (ClosedLoopClient) -> EventLoopFuture<Void>
    ) async -> Result {
        let done = loop.flatSubmit {
            let client = ClosedLoopClient(loop: loop, window: window, result: result, round: round)
            client.next()
            return client.done.futureResult
        }
        // `done` never fails: errors are counted in the result.
        return (try? await done.get()) ?? result
    }

    private func next() {
        guard self.window.isOpen(at: monotonicNanos()) else {
            self.done.succeed(self.result)
            return
        }
        self.round(self).assumeIsolated().whenComplete { outcome in
            switch outcome {
            case .success:
                self.next()
            case .failure(let error):
                self.result.errors.add(error)
                if isConnectionLost(error) {
                    self.done.succeed(self.result)
                } else {
                    // Later, not inline: a call that fails at once must not recurse.
                    self.loop.assumeIsolated().scheduleTask(in: .milliseconds(1)) { self.next() }
                }
            }
        }
    }
}
