import Testing

/// The built `leasehold` executables, run as child processes against a built `leasehold serve`.
///
/// One serialized suite: the lock-loss test measures time, and must not share two cores with the others.
@Suite("end to end", .serialized, .timeLimit(.minutes(2)))
enum EndToEndTests {}
