import NIOCore
import Synchronization

/// The server's end of one call's outbound stream: a closed flag that any thread may read, and a way to hand
/// encoded items to the connection's event loop.
final class RPCStreamSink: Sendable {
    private let closed = Atomic<Bool>(false)
    private let deliver: @Sendable (ByteBuffer) -> Void

    init(deliver: @escaping @Sendable (ByteBuffer) -> Void) { self.deliver = deliver }

    /// A sink for unary calls, which never stream.
    static let none = RPCStreamSink { _ in preconditionFailure("unary calls have no stream") }

    var isClosed: Bool { self.closed.load(ordering: .acquiring) }

    /// Marks the call ended; later sends throw.
    func close() { self.closed.store(true, ordering: .releasing) }

    func send(_ payload: ByteBuffer) throws {
        guard !self.isClosed else { throw CancellationError() }
        self.deliver(payload)
    }
}
