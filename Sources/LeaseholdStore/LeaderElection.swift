/// The leader lease of a store that several servers share, one active at a time (docs/ha.md).
///
/// The lease lives in the database and is measured on the database's clock; each takeover moves the epoch up by
/// one, and a store opened for an epoch can no longer write once a newer one exists. Nothing above this protocol
/// knows how the database does it.
public protocol LeaderElection: Sendable {
    /// Takes the lease for `holder`, with a new epoch, if it has run out on the database clock.
    /// - Parameters:
    ///   - holder: Names this process (unique per start).
    ///   - advertise: `HOST:PORT` where clients reach this node; standbys point clients to it.
    ///   - lease: How long the lease lasts from the database's now.
    /// - Returns: ``TakeOverOutcome/took(epoch:)``, or who holds the lease now.
    /// - Throws: The database's error.
    func takeOver(holder: String, advertise: String, lease: Duration) async throws -> TakeOverOutcome

    /// Extends the lease to `lease` from the database's now, if `holder` still holds it with `epoch` and it has not
    /// run out.
    /// - Returns: `false` when the lease is no longer this holder's.
    /// - Throws: The database's error.
    func renew(holder: String, epoch: UInt64, lease: Duration) async throws -> Bool

    /// Ends the lease at once if `holder` still holds it with `epoch` (an orderly shutdown), so a standby need not
    /// wait for it to run out.
    /// - Throws: The database's error.
    func resign(holder: String, epoch: UInt64) async throws

    /// Opens the store for writing as `epoch`.
    /// - Throws: The database's error.
    func openStore(epoch: UInt64) async throws -> any Store

    /// Drops the connection the lease calls use, failing any call still waiting on it; the next call reconnects.
    func reset()
}

/// What a takeover attempt found.
public enum TakeOverOutcome: Hashable, Sendable {
    /// The lease was free and is now this node's, with this epoch.
    case took(epoch: UInt64)
    /// Another node holds a valid lease: its advertised address (empty if none was given), its epoch, and how long
    /// the lease had left on the database's clock when the database answered.
    case held(by: String, epoch: UInt64, remaining: Duration)
}
