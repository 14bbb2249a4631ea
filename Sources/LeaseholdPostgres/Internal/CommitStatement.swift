internal import LeaseholdCore
internal import NIOCore
internal import PostgresNIO

/// The group commit (``PostgresStore``): one statement of data-modifying CTEs that writes a ``CommitPlan`` only if
/// the store's epoch is still the newest (`leader` taken `FOR KEY SHARE`) and the group's first event is above
/// `meta.revision`. It answers one row: 1 when written, 0 when refused.
///
/// Prepared once per connection: its text never changes (the rows travel as arrays), so PostgreSQL parses and plans
/// it once instead of once per commit.
struct CommitStatement: PostgresPreparedStatement {
    static let name = "leasehold_commit_v1"

    static let sql = """
        WITH guard AS (
            SELECT epoch FROM leader WHERE id = 1 AND epoch = $1 FOR KEY SHARE
        ), moved AS (
            UPDATE meta SET
                revision = CASE WHEN $2 THEN $3 ELSE revision END,
                last_session_id = GREATEST(last_session_id, $4)
            WHERE id = 1 AND EXISTS (SELECT 1 FROM guard)
                AND (NOT $2 OR revision < $5)
                AND ($6 = 0 OR last_session_id < $6)
            RETURNING 1
        ), new_sessions AS (
            INSERT INTO sessions (id, secret_hash, ttl_ms, owner, name)
            SELECT * FROM unnest($7::int8[], $8::bytea[], $9::int8[], $10::text[], $11::text[])
            WHERE EXISTS (SELECT 1 FROM moved)
        ), new_events AS (
            INSERT INTO events (revision, type, key, session_id, fencing_token, owner, at_ms)
            SELECT * FROM unnest($12::int8[], $13::int2[], $14::text[], $15::int8[], $16::int8[], $17::text[], $18::int8[])
            WHERE EXISTS (SELECT 1 FROM moved)
        ), gone_sessions AS (
            DELETE FROM sessions WHERE id = ANY($19::int8[]) AND EXISTS (SELECT 1 FROM moved)
        ), held AS (
            INSERT INTO locks (key, session_id, fencing_token, owner, acquired_at_ms)
            SELECT * FROM unnest($20::text[], $21::int8[], $22::int8[], $23::text[], $24::int8[])
            WHERE EXISTS (SELECT 1 FROM moved)
            ON CONFLICT (key) DO UPDATE SET
                session_id = EXCLUDED.session_id, fencing_token = EXCLUDED.fencing_token,
                owner = EXCLUDED.owner, acquired_at_ms = EXCLUDED.acquired_at_ms
        ), freed AS (
            DELETE FROM locks WHERE key = ANY($25::text[]) AND EXISTS (SELECT 1 FROM moved)
        )
        SELECT count(*)::int8 FROM moved
        """

    static let bindingDataTypes: [PostgresDataType] = [
        .int8, .bool, .int8, .int8, .int8, .int8,
        .int8Array, .byteaArray, .int8Array, .textArray, .textArray,
        .int8Array, .int2Array, .textArray, .int8Array, .int8Array, .textArray, .int8Array,
        .int8Array,
        .textArray, .int8Array, .int8Array, .textArray, .int8Array,
        .textArray,
    ]

    let plan: CommitPlan
    let epoch: Int64

    /// The first event's revision, 0 when the group has no event.
    var firstRevision: Int64 { Int64(bitPattern: self.plan.events.first?.revision ?? 0) }
    /// The lowest session id the group opens, 0 when it opens none.
    var lowestOpened: Int64 { Int64(bitPattern: self.plan.openedRange?.lowest ?? 0) }

    func makeBindings() throws -> PostgresBindings {
        let plan = self.plan
        var bindings = PostgresBindings(capacity: Self.bindingDataTypes.count)
        bindings.append(self.epoch)
        bindings.append(!plan.events.isEmpty)
        bindings.append(Int64(bitPattern: plan.events.last?.revision ?? 0))
        bindings.append(Int64(bitPattern: plan.openedRange?.highest ?? 0))
        bindings.append(self.firstRevision)
        bindings.append(self.lowestOpened)
        let sessions = plan.newSessions
        bindings.append(sessions.map { Int64(bitPattern: $0.id.rawValue) })
        bindings.append(sessions.map { ByteBuffer(bytes: $0.secretHash) })
        bindings.append(sessions.map { Int64($0.ttl.wholeMilliseconds) })
        bindings.append(sessions.map(\.owner))
        bindings.append(sessions.map(\.name))
        let events = plan.events
        bindings.append(events.map { Int64(bitPattern: $0.revision) })
        bindings.append(events.map { Int16($0.kind.rawValue) })
        bindings.append(events.map(\.key))
        bindings.append(events.map { Int64(bitPattern: $0.sessionID.rawValue) })
        bindings.append(events.map { Int64(bitPattern: $0.fencingToken) })
        bindings.append(events.map(\.owner))
        bindings.append(events.map { Int64(bitPattern: $0.at.millisecondsSince1970) })
        bindings.append(plan.removedSessions)
        let held = plan.heldLocks
        bindings.append(held.map(\.key))
        bindings.append(held.map { Int64(bitPattern: $0.sessionID.rawValue) })
        bindings.append(held.map { Int64(bitPattern: $0.fencingToken) })
        bindings.append(held.map(\.owner))
        bindings.append(held.map { Int64(bitPattern: $0.at.millisecondsSince1970) })
        bindings.append(plan.freedKeys)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Int64 {
        try row.decode(Int64.self)
    }
}
