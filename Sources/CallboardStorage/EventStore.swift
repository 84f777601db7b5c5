import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// The append-only history of requests. Only INSERT and SELECT here; the database refuses the rest.
public enum EventStore {
    public static func append(_ e: EventRecord, on conn: PostgresConnection, logger: Logger) async throws {
        var b = SQLBinds()
        let sql = """
            INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
            VALUES (\(b.add(e.requestID)), \(b.add(e.version)), \(b.add(e.kind)), \(b.add(e.actorKind.rawValue)), \(b.add(e.actorID)),
                    \(b.add(e.occurredAt)), \(b.add(JSONText.encode(e.data)))::jsonb)
            """
        _ = try await conn.run(b.statement(sql), logger: logger)
    }

    /// The newest `limit` events before `beforeID` (nil: the newest of all), newest first; `older` is
    /// the cursor for the page before them, set when more precede them. Reads `limit + 1` rows at most.
    public static func newest(
        requestID: UUID, beforeID: Int64?, limit: Int, on client: PostgresClient, logger: Logger
    ) async throws -> (events: [EventRecord], older: Int64?) {
        let rows = try await client.query(
            """
            SELECT id, request_id, version, kind, actor_kind, actor_id, occurred_at, data::text
            FROM request_events WHERE request_id = \(requestID) AND id < \(beforeID ?? Int64.max) ORDER BY id DESC LIMIT \(limit + 1)
            """, logger: logger)
        let events = try await decode(rows)
        let older = events.count > limit ? events[limit - 1].id : nil
        return (Array(events.prefix(limit)), older)
    }

    /// The latest sign-off decision (`approve_sign_off` or `request_changes`) on a request: one row read.
    public static func latestSignOffDecision(requestID: UUID, on client: PostgresClient, logger: Logger) async throws -> EventRecord? {
        let rows = try await client.query(
            """
            SELECT id, request_id, version, kind, actor_kind, actor_id, occurred_at, data::text
            FROM request_events
            WHERE request_id = \(requestID) AND data->>'transition' IN ('approve_sign_off', 'request_changes')
            ORDER BY id DESC LIMIT 1
            """, logger: logger)
        return try await decode(rows).first
    }

    /// When the request was last approved (its latest approve_sign_off event), inside the caller's
    /// transaction: one row, by the request's index.
    public static func latestApproval(requestID: UUID, on conn: PostgresConnection, logger: Logger) async throws -> Date? {
        let rows = try await conn.query(
            """
            SELECT occurred_at FROM request_events
            WHERE request_id = \(requestID) AND kind = 'transitioned' AND data->>'transition' = 'approve_sign_off'
            ORDER BY id DESC LIMIT 1
            """, logger: logger)
        for try await at in rows.decode(Date.self) { return at }
        return nil
    }

    /// The names of the fields that `updated` events after `version` changed, in the order they were
    /// first changed (alphabetical within one event). Only the names are read, one row each.
    public static func fieldsChanged(requestID: UUID, afterVersion version: Int, on client: PostgresClient, logger: Logger) async throws
        -> [String]
    {
        let rows = try await client.query(
            """
            SELECT k.name
            FROM request_events e
            CROSS JOIN LATERAL jsonb_object_keys(
                CASE WHEN jsonb_typeof(e.data->'changes') = 'object' THEN e.data->'changes' ELSE '{}'::jsonb END) AS k(name)
            WHERE e.request_id = \(requestID) AND e.version > \(version) AND e.kind = 'updated'
            GROUP BY k.name ORDER BY min(e.id), k.name
            """, logger: logger)
        var names: [String] = []
        for try await name in rows.decode(String.self) { names.append(name) }
        return names
    }

    private static func decode(_ rows: PostgresRowSequence) async throws -> [EventRecord] {
        var events: [EventRecord] = []
        for try await (id, rid, version, kind, actor, actorID, at, data) in rows.decode(
            (Int64, UUID, Int, String, String, String?, Date, String).self)
        {
            events.append(
                EventRecord(
                    id: id, requestID: rid, version: version, kind: kind,
                    actorKind: ActorKind(rawValue: actor) ?? .system, actorID: actorID, occurredAt: at,
                    data: try JSONText.decode(data)))
        }
        return events
    }

    /// Events after `afterID`, oldest first; the next cursor is set when more follow.
    public static func list(
        requestID: UUID, afterID: Int64, limit: Int, on client: PostgresClient,
        logger: Logger
    ) async throws -> (events: [EventRecord], next: Int64?) {
        let rows = try await client.query(
            """
            SELECT id, request_id, version, kind, actor_kind, actor_id, occurred_at, data::text
            FROM request_events WHERE request_id = \(requestID) AND id > \(afterID) ORDER BY id LIMIT \(limit + 1)
            """, logger: logger)
        let events = try await decode(rows)
        let next = events.count > limit ? events[limit - 1].id : nil
        return (Array(events.prefix(limit)), next)
    }
}
