internal import LeaseholdCore

/// The net effect of one group of batches, as the arrays the commit statement takes.
///
/// The `locks` projection gets one change per key the group touches: the key's last event decides whether its
/// row is upserted (an `acquired`) or deleted (any other kind). A session opened and removed in the same group is
/// never inserted, but still moves the session counter.
struct CommitPlan {
    var events: [Event] = []
    var newSessions: [SessionRecord] = []
    var removedSessions: [Int64] = []
    var heldLocks: [Event] = []
    var freedKeys: [String] = []
    /// The lowest and highest session id opened in the group.
    var openedRange: (lowest: UInt64, highest: UInt64)?

    /// - Throws: ``PostgresStoreError`` when the events' revisions do not strictly increase.
    init(_ batches: [[Mutation]]) throws {
        var opened: [SessionID: SessionRecord] = [:]
        var openedOrder: [SessionID] = []
        var lastEvent: [String: Event] = [:]
        var keyOrder: [String] = []
        for batch in batches {
            for mutation in batch {
                switch mutation {
                case .openSession(let session):
                    opened[session.id] = session
                    openedOrder.append(session.id)
                    let low = min(self.openedRange?.lowest ?? .max, session.id.rawValue)
                    let high = max(self.openedRange?.highest ?? 0, session.id.rawValue)
                    self.openedRange = (low, high)
                case .removeSession(let id):
                    if opened.removeValue(forKey: id) == nil {
                        self.removedSessions.append(Int64(bitPattern: id.rawValue))
                    }
                case .event(let event):
                    if let last = self.events.last, event.revision <= last.revision {
                        throw PostgresStoreError(
                            message: "event revision \(event.revision) is not above \(last.revision), the one before it"
                        )
                    }
                    self.events.append(event)
                    if lastEvent.updateValue(event, forKey: event.key) == nil { keyOrder.append(event.key) }
                }
            }
        }
        self.newSessions = openedOrder.compactMap { opened.removeValue(forKey: $0) }
        for key in keyOrder {
            guard let event = lastEvent[key] else { continue }
            if event.kind == .acquired {
                self.heldLocks.append(event)
            } else {
                self.freedKeys.append(key)
            }
        }
    }

    var isEmpty: Bool {
        self.events.isEmpty && self.openedRange == nil && self.removedSessions.isEmpty
    }
}
