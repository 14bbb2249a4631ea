internal import NIOCore

/// Runs a task's jobs on one event loop: a task that prefers it (`Task(executorPreference:)`) runs its
/// nonisolated async code there, postgres-nio's included, instead of on the global concurrent pool.
///
/// The store's writer runs this way on the loop that its connections use, so that a commit costs no thread hop
/// between the writer and postgres-nio: the statement is written from the loop, the answer resumes the writer on
/// the loop that read it, and the completions run there too. On the pool each commit woke two more threads.
final class EventLoopTaskExecutor: TaskExecutor {
    private let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
