import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// The append-only history of requests. Only INSERT and SELECT here; the database refuses the rest.
public enum EventStore {
    public static func append(_ e: EventRecord, on conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
            VALUES (\(e.requestID), \(e.version), \(e.kind), \(e.actorKind.rawValue), \(e.actorID), \(e.occurredAt),
                    \(JSONText.encode(e.data))::jsonb)
            """, logger: logger)
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
        let next = events.count > limit ? events[limit - 1].id : nil
        return (Array(events.prefix(limit)), next)
    }
}
