/// When a connection handler flushes what it wrote: once at the end of a read burst (`channelReadComplete`) or of a
/// batch of work from its inbox, so that the answers of one burst share one flush (one `writev`); and, for a write
/// made outside both (a timer firing, a call started directly on the loop), once later in the same loop tick.
///
/// Server and client handlers own one each; it is confined to the connection's event loop. It only decides: the
/// handler flushes when a method returns `true`.
struct FlushCoalescer {
    private var inBatch = false
    private var pending = false
    private var deferredFlushScheduled = false

    /// Starts a batch; every frame of a read burst may call it again.
    mutating func beginBatch() { self.inBatch = true }

    /// Ends a batch.
    /// - Returns: Whether writes wait for a flush now.
    mutating func endBatch() -> Bool {
        self.inBatch = false
        return self.takePending()
    }

    /// Notes a write.
    /// - Returns: Whether the handler must schedule a deferred flush (calling ``deferredFlushRuns()``) on its loop:
    ///   the write came outside any batch, and none is scheduled yet.
    mutating func noteWrite() -> Bool {
        self.pending = true
        guard !self.inBatch, !self.deferredFlushScheduled else { return false }
        self.deferredFlushScheduled = true
        return true
    }

    /// The deferred flush runs.
    /// - Returns: Whether writes wait for a flush now.
    mutating func deferredFlushRuns() -> Bool {
        self.deferredFlushScheduled = false
        return self.takePending()
    }

    /// The handler flushed by other means (before closing): nothing is pending.
    mutating func flushed() { self.pending = false }

    private mutating func takePending() -> Bool {
        defer { self.pending = false }
        return self.pending
    }
}
