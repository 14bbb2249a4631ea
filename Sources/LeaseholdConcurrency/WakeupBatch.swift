#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A queue whose consumer sleeps on another thread, and which can put off waking it.
package protocol DeferredWakeup: AnyObject, Sendable {
    /// Wakes the consumer: called once at the end of the ``WakeupBatch`` that put the wake-up off.
    func wakeNow()
}

/// Gathers the wake-ups that one thread would make while it runs a batch of completions, and makes them once the
/// batch has run.
///
/// The store's writer finishes a group commit by running one completion per call; each posts an answer to its
/// connection's event loop, and each post used to schedule a task there (taking the loop's locks, and waking the loop
/// when it slept, possibly several times per group as the loop raced the writer). Inside a batch, a queue that would
/// wake its consumer registers here instead (``putOff(_:)``); it keeps taking items, and the batch wakes it once, at
/// its end, with everything the group posted to it.
///
/// ```swift
/// WakeupBatch.run {
///     for completion in group { completion(.success(())) }
/// }   // each queue that was posted to is woken here, once
/// ```
///
/// A batch is per thread; batches nest, and only the outermost one wakes. Nothing may wait, inside a batch, for a
/// consumer to take what the batch posted.
package enum WakeupBatch {
    /// The state of one thread's batch.
    private final class Batch {
        var depth = 0
        var pending: [any DeferredWakeup] = []
    }

    /// The calling thread's batch, made on its first use and freed with the thread.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let created = pthread_key_create(&key) { pointer in
            #if canImport(Darwin)
            Unmanaged<AnyObject>.fromOpaque(pointer).release()
            #else
            if let pointer { Unmanaged<AnyObject>.fromOpaque(pointer).release() }
            #endif
        }
        precondition(created == 0, "pthread_key_create failed")
        return key
    }()

    private static var current: Batch {
        if let pointer = pthread_getspecific(Self.key) {
            return Unmanaged<Batch>.fromOpaque(pointer).takeUnretainedValue()
        }
        let batch = Batch()
        pthread_setspecific(Self.key, Unmanaged.passRetained(batch).toOpaque())
        return batch
    }

    /// Runs `body` as a batch: the wake-ups put off during it are made when it returns (or throws), in the order
    /// they were put off.
    /// - Parameter body: The work whose wake-ups are gathered.
    /// - Returns: What `body` returned.
    package static func run<T>(_ body: () throws -> T) rethrows -> T {
        let batch = Self.current
        batch.depth += 1
        defer {
            batch.depth -= 1
            if batch.depth == 0, !batch.pending.isEmpty {
                var pending: [any DeferredWakeup] = []
                swap(&pending, &batch.pending)
                for wakeup in pending { wakeup.wakeNow() }
                // Hand the memory back for the next batch (a large burst's is not kept).
                if pending.capacity <= 1_024, batch.pending.isEmpty {
                    pending.removeAll(keepingCapacity: true)
                    swap(&pending, &batch.pending)
                }
            }
        }
        return try body()
    }

    /// Puts a wake-up off until the end of the calling thread's batch, if it runs one.
    /// - Parameter wakeup: The queue to wake; it is woken once per call that returned `true`.
    /// - Returns: `true` when a batch took it; `false` outside a batch, where the caller wakes its consumer itself.
    package static func putOff(_ wakeup: any DeferredWakeup) -> Bool {
        guard let pointer = pthread_getspecific(Self.key) else { return false }
        let batch = Unmanaged<Batch>.fromOpaque(pointer).takeUnretainedValue()
        guard batch.depth > 0 else { return false }
        batch.pending.append(wakeup)
        return true
    }
}
