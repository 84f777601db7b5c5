import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// One request as the CSV export writes it: plain columns, the contacts read straight from the
/// items (`nil` when the caller may not see them: they are not even read).
public struct RequestExportRow: Sendable, Equatable {
    public var id: UUID
    public var reference: String
    public var kind: String
    public var state: String
    public var department: String
    public var division: String
    public var serviceName: String
    public var assigneeEmail: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var infoCompleteAt: Date?
    public var slaDueAt: Date?
    public var slaMetAt: Date?
    public var missingItems: [String]
    public var contactName: String?
    public var contactEmail: String?
    public var contactPhone: String?
    public var signOffName: String?
    public var signOffEmail: String?
    /// The (created_at, id) keyset position of this row, in microseconds.
    public var createdMicros: Int64
}

/// One history event as the CSV export writes it, with its request's reference and its data as
/// JSON text (PostgreSQL's rendering of the stored `jsonb`).
public struct EventExportRow: Sendable, Equatable {
    public var id: Int64
    public var requestID: UUID
    public var reference: String
    public var version: Int
    public var kind: String
    public var actorKind: String
    public var actorID: String?
    public var occurredAt: Date
    public var data: String
}

/// The exports' reads: one bounded batch per call, in keyset order, so an export of any size
/// holds one batch at a time.
public enum ExportStore {
    /// Up to `limit` requests matching `filter` after `after` (a (created_at µs, id) position), in
    /// (created_at, id) order (the `requests_order_idx` index).
    public static func requests(
        _ filter: RequestFilter, after: (micros: Int64, id: UUID)?, limit: Int, contacts: Bool, on client: PostgresClient, logger: Logger
    ) async throws -> [RequestExportRow] {
        var binds = SQLBinds()
        var conditions = RequestStore.filterConditions(filter, &binds)
        if let after {
            conditions.append(
                "(r.created_at, r.id) > ('epoch'::timestamptz + \(binds.add(after.micros)) * interval '1 microsecond', \(binds.add(after.id)))")
        }
        let person = { (item: String, field: String) in contacts ? "r.items->'\(item)'->'value'->>'\(field)'" : "NULL::text" }
        let sql = """
            SELECT r.id, r.reference, r.kind, r.state, r.department, r.division, r.service_name, s.email AS assignee_email,
                r.created_at, r.updated_at, r.info_complete_at, r.sla_due_at, r.sla_met_at, r.missing_items,
                \(person("contact", "name")), \(person("contact", "email")), \(person("contact", "phone")),
                \(person("sign_off_contact", "name")), \(person("sign_off_contact", "email")),
                (extract(epoch FROM r.created_at) * 1000000)::int8
            FROM requests r LEFT JOIN staff s ON s.id = r.assignee_id
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY r.created_at, r.id LIMIT \(binds.add(limit))
            """
        var out: [RequestExportRow] = []
        out.reserveCapacity(limit)
        for try await row in try await client.query(binds.query(sql), logger: logger) {
            let r = row.makeRandomAccess()
            out.append(
                RequestExportRow(
                    id: try r[0].decode(UUID.self), reference: try r[1].decode(String.self), kind: try r[2].decode(String.self),
                    state: try r[3].decode(String.self), department: try r[4].decode(String.self), division: try r[5].decode(String.self),
                    serviceName: try r[6].decode(String.self), assigneeEmail: try r[7].decode(String?.self),
                    createdAt: try r[8].decode(Date.self), updatedAt: try r[9].decode(Date.self),
                    infoCompleteAt: try r[10].decode(Date?.self), slaDueAt: try r[11].decode(Date?.self),
                    slaMetAt: try r[12].decode(Date?.self), missingItems: try r[13].decode([String].self),
                    contactName: try r[14].decode(String?.self), contactEmail: try r[15].decode(String?.self),
                    contactPhone: try r[16].decode(String?.self), signOffName: try r[17].decode(String?.self),
                    signOffEmail: try r[18].decode(String?.self), createdMicros: try r[19].decode(Int64.self)))
        }
        return out
    }

    /// Up to `limit` events with `from <= occurred_at < to` and an id above `afterID`, in id order
    /// (the primary key; the period is a filter on the way, so an export reads the table once).
    /// Without `personal`, only a transition's `transition`, `from` and `to` are read of the data
    /// (other kinds: empty); reasons, evidence, recipients and changes are not.
    public static func events(
        from: Date, to: Date, afterID: Int64, limit: Int, personal: Bool, on client: PostgresClient, logger: Logger
    ) async throws -> [EventExportRow] {
        let data =
            personal
            ? "e.data::text"
            : """
            CASE WHEN e.kind = 'transitioned' THEN jsonb_build_object('transition', e.data->'transition', 'from', e.data->'from', 'to', e.data->'to')::text
            ELSE '' END
            """
        var binds = SQLBinds()
        let sql = """
            SELECT e.id, e.request_id, r.reference, e.version, e.kind, e.actor_kind, e.actor_id, e.occurred_at, \(data)
            FROM request_events e JOIN requests r ON r.id = e.request_id
            WHERE e.id > \(binds.add(afterID)) AND e.occurred_at >= \(binds.add(from)) AND e.occurred_at < \(binds.add(to))
            ORDER BY e.id LIMIT \(binds.add(limit))
            """
        var out: [EventExportRow] = []
        out.reserveCapacity(limit)
        for try await (id, rid, reference, version, kind, actor, actorID, at, text) in try await client.query(binds.query(sql), logger: logger)
            .decode((Int64, UUID, String, Int, String, String, String?, Date, String).self)
        {
            out.append(
                EventExportRow(
                    id: id, requestID: rid, reference: reference, version: version, kind: kind, actorKind: actor, actorID: actorID,
                    occurredAt: at, data: text))
        }
        return out
    }
}
