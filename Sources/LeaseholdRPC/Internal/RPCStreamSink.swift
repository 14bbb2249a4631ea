import NIOCore
import Synchronization

/// The server's end of one call's outbound stream.
///
/// Bytes are charged to the stream when ``send(_:)`` is called, on whatever thread the producer runs, and
/// refunded when the connection has handed them to the socket. So the bound covers everything between producer and
/// socket: items waiting for the event loop as well as items in the channel's buffer. Past the bound the sink
/// closes and the call ends with `RESOURCE_EXHAUSTED`.
final class RPCStreamSink: Sendable {
    private let closed = Atomic<Bool>(false)
    private let pendingBytes = Atomic<Int>(0)
    private let limit: Int
    private let deliver: @Sendable (ByteBuffer, Int) -> Void
    private let overflow: @Sendable () -> Void

    /// Creates a sink.
    /// - Parameters:
    ///   - limit: The most bytes that may be on their way to the socket.
    ///   - deliver: Hands an item and its charged size to the event loop.
    ///   - overflow: Ends the call with `RESOURCE_EXHAUSTED`; called once.
    init(limit: Int, deliver: @escaping @Sendable (ByteBuffer, Int) -> Void, overflow: @escaping @Sendable () -> Void) {
        self.limit = limit
        self.deliver = deliver
        self.overflow = overflow
    }

    /// A sink for unary calls, which never stream.
    static let none = RPCStreamSink(
        limit: 0,
        deliver: { _, _ in preconditionFailure("unary calls have no stream") },
        overflow: {}
    )

    var isClosed: Bool { self.closed.load(ordering: .acquiring) }

    /// Marks the call ended; later sends throw.
    func close() { self.closed.store(true, ordering: .releasing) }

    /// Bytes of one item as charged to the bound: the payload and its frame header.
    static func charge(for payload: ByteBuffer) -> Int { payload.readableBytes + 16 }

    func send(_ payload: ByteBuffer) throws {
        guard !self.isClosed else { throw CancellationError() }
        let size = Self.charge(for: payload)
        let pending = self.pendingBytes.add(size, ordering: .relaxed).newValue
        guard pending <= self.limit else {
            if !self.closed.exchange(true, ordering: .acquiringAndReleasing) { self.overflow() }
            throw CancellationError()
        }
        self.deliver(payload, size)
    }

    /// Gives back the charge of an item the socket has taken.
    func refund(_ size: Int) { self.pendingBytes.subtract(size, ordering: .relaxed) }
}
