import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// Filters of the request list; nil means "any".
public struct RequestFilter: Sendable, Equatable {
    public var states: [RequestState] = []
    public var kind: RequestKind?
    public var assigneeEmail: String?
    public var unassigned = false
    public var missing: ItemName?
    public var department: String?
    public var text: String?
    /// Preview promises at risk (at most a working day left) or breached, as of `now`.
    public var sla: SLAFilter?
    public var order: RequestOrder = .created
    public var now = Date()
    public init() {}
}

public enum SLAFilter: String, CaseIterable, Sendable {
    case atRisk = "at_risk"
    case breached
}

/// Position in the stable (created_at, id) order, opaque to clients.
public struct ListCursor: Sendable, Equatable {
    public var createdMicros: Int64
    public var id: UUID
    /// For the due-date order: the last row's due instant (`nil`: it had none, so only rows without one follow).
    public var dueMicros: Int64??

    public init(createdMicros: Int64, id: UUID, dueMicros: Int64?? = .none) {
        self.createdMicros = createdMicros
        self.id = id
        self.dueMicros = dueMicros
    }

    public var encoded: String {
        var text = "\(createdMicros)|\(id.uuidString)"
        if case .some(let due) = dueMicros { text += "|" + (due.map(String.init) ?? "-") }
        return Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    public init?(encoded: String) {
        var b64 = encoded.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let s = String(data: data, encoding: .utf8) else { return nil }
        let parts = s.split(separator: "|")
        guard parts.count == 2 || parts.count == 3, let micros = Int64(parts[0]), Self.instants.contains(micros),
            let id = UUID(uuidString: String(parts[1]))
        else { return nil }
        self.init(createdMicros: micros, id: id)
        if parts.count == 3 {
            if parts[2] == "-" {
                dueMicros = .some(nil)
            } else if let d = Int64(parts[2]), Self.instants.contains(d) {
                dueMicros = .some(d)
            } else {
                return nil
            }
        }
    }

    /// The instants a cursor may hold, in microseconds since 1970: 0001-01-01 to 9999-12-31 (any
    /// more and PostgreSQL's `'epoch' + n * interval '1 microsecond'` is out of range).
    static let instants: ClosedRange<Int64> = -62_135_596_800_000_000...253_402_300_799_999_999
}

/// How the request list is ordered.
public enum RequestOrder: String, CaseIterable, Sendable {
    /// Oldest first: (created_at, id).
    case created
    /// Soonest preview due first, requests without a running promise last: (sla_due_at, created_at, id).
    case slaDue = "sla_due"
}

/// What the triage list shows of a request: no item values, read from plain columns.
public struct RequestSummary: Sendable, Equatable {
    public var id: UUID
    public var kind: RequestKind
    public var state: RequestState
    public var version: Int
    public var serviceName: String?
    public var department: String
    public var division: String
    public var assigneeEmail: String?
    public var missingItems: [ItemName]
    public var signOffDecision: SignOffDecision?
    public var infoCompleteAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var slaDueAt: Date?
    public var slaAtRiskAt: Date?
    public var slaMetAt: Date?
    public var reference = ""
}

public enum RequestStore {
    static let summaryColumns = """
        r.id, r.kind, r.state, r.version, r.service_name, r.department, r.division, s.email AS assignee_email, r.missing_items,
        r.sign_off_decision, r.info_complete_at, r.created_at, r.updated_at, r.sla_due_at, r.sla_at_risk_at, r.sla_met_at,
        r.reference, (extract(epoch FROM r.created_at) * 1000000)::int8 AS created_us
        """

    static let columns = """
        r.id, r.kind, r.state, r.version, r.department, r.division, r.assignee_id, s.email AS assignee_email,
        r.items::text AS items, r.optional_modules, r.notes, r.sign_off_decision, r.preview_url, r.live_url,
        r.audit_outcome, r.info_complete_at, r.created_at, r.updated_at,
        r.sla_started_at, r.sla_due_at, r.sla_at_risk_at, r.sla_met_at, r.sla_calendar_version, r.state_entered_at, r.reference,
        (extract(epoch FROM r.created_at) * 1000000)::int8 AS created_us
        """

    /// With `lock`, the row is locked for the rest of the transaction (`FOR UPDATE OF r`).
    public static func fetch(_ id: UUID, lock: Bool = false, on conn: PostgresConnection, logger: Logger) async throws -> RequestRecord? {
        let sql = "SELECT \(columns) FROM requests r LEFT JOIN staff s ON s.id = r.assignee_id WHERE r.id = $1" + (lock ? " FOR UPDATE OF r" : "")
        var binds = SQLBinds()
        _ = binds.add(id)
        return try await conn.run(binds.statement(sql), logger: logger).first.map(decode)
    }

    public static func fetch(_ id: UUID, on client: PostgresClient, logger: Logger) async throws -> RequestRecord? {
        try await client.withConnection { try await fetch(id, on: $0, logger: logger) }
    }

    /// One page in (created_at, id) order; the cursor is set when more rows follow.
    public static func list(
        _ filter: RequestFilter, after cursor: ListCursor?, limit: Int, on client: PostgresClient,
        logger: Logger
    ) async throws -> (records: [RequestSummary], next: ListCursor?) {
        var binds = SQLBinds()
        var conditions = filterConditions(filter, &binds)
        func bind(_ value: some PostgresNonThrowingEncodable) -> String { binds.add(value) }
        // A met promise is no longer due: in the due-date order it sorts with those that have none.
        let due = "(CASE WHEN r.sla_met_at IS NULL THEN r.sla_due_at END)"
        if let c = cursor {
            let after = "(r.created_at, r.id) > ('epoch'::timestamptz + \(bind(c.createdMicros)) * interval '1 microsecond', \(bind(c.id)))"
            switch (filter.order, c.dueMicros) {
            case (.slaDue, .some(.some(let d))):
                let dueAt = "('epoch'::timestamptz + \(bind(d)) * interval '1 microsecond')"
                conditions.append("(\(due) IS NULL OR \(due) > \(dueAt) OR (\(due) = \(dueAt) AND \(after)))")
            case (.slaDue, .some(.none)):
                conditions.append("\(due) IS NULL AND \(after)")
            default:
                conditions.append(after)
            }
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let orderBy = filter.order == .slaDue ? "\(due) ASC NULLS LAST, r.created_at, r.id" : "r.created_at, r.id"
        let sql = """
            SELECT \(summaryColumns), (extract(epoch FROM \(due)) * 1000000)::int8 AS due_us
            FROM requests r LEFT JOIN staff s ON s.id = r.assignee_id
            \(whereClause) ORDER BY \(orderBy) LIMIT \(bind(limit + 1))
            """
        // Unnamed on purpose, so planned for its values on every call: a named statement gets a
        // generic plan after five runs, and for `state=requested&missing=service` that plan took
        // 30-38 ms instead of 3.7 (docs/performance.md). How selective a filter is depends on its value.
        let rows = try await client.query(binds.query(sql), logger: logger).collect()
        var records: [RequestSummary] = []
        var lastMicros: Int64 = 0
        var lastDue: Int64?
        for row in rows.prefix(limit) {
            // By position, in `summaryColumns`' order (then due_us): a lookup by name hashes the name.
            let r = row.makeRandomAccess()
            lastDue = try r[18].decode(Int64?.self)
            let name = try r[4].decode(String.self)
            records.append(
                RequestSummary(
                    id: try r[0].decode(UUID.self), kind: RequestKind(rawValue: try r[1].decode(String.self))!,
                    state: RequestState(rawValue: try r[2].decode(String.self))!, version: try r[3].decode(Int.self),
                    serviceName: name.isEmpty ? nil : name, department: try r[5].decode(String.self),
                    division: try r[6].decode(String.self), assigneeEmail: try r[7].decode(String?.self),
                    missingItems: try r[8].decode([String].self).compactMap(ItemName.init(rawValue:)),
                    signOffDecision: try r[9].decode(String?.self).flatMap(SignOffDecision.init(rawValue:)),
                    infoCompleteAt: try r[10].decode(Date?.self), createdAt: try r[11].decode(Date.self),
                    updatedAt: try r[12].decode(Date.self), slaDueAt: try r[13].decode(Date?.self),
                    slaAtRiskAt: try r[14].decode(Date?.self), slaMetAt: try r[15].decode(Date?.self),
                    reference: try r[16].decode(String.self)))
            lastMicros = try r[17].decode(Int64.self)
        }
        let next =
            rows.count > limit
            ? records.last.map { ListCursor(createdMicros: lastMicros, id: $0.id, dueMicros: filter.order == .slaDue ? .some(lastDue) : .none) }
            : nil
        return (records, next)
    }

    /// The list's filters as SQL conditions on `requests r`, their values bound in `binds`.
    static func filterConditions(_ filter: RequestFilter, _ binds: inout SQLBinds) -> [String] {
        var conditions: [String] = []
        func bind(_ value: some PostgresNonThrowingEncodable) -> String { binds.add(value) }
        if !filter.states.isEmpty { conditions.append("r.state = ANY(\(bind(filter.states.map(\.rawValue))))") }
        if let kind = filter.kind { conditions.append("r.kind = \(bind(kind.rawValue))") }
        if let a = filter.assigneeEmail { conditions.append("r.assignee_id = (SELECT id FROM staff WHERE lower(email) = lower(\(bind(a))))") }
        if filter.unassigned { conditions.append("r.assignee_id IS NULL") }
        if let m = filter.missing { conditions.append("r.missing_items @> ARRAY[\(bind(m.rawValue))]::text[]") }
        if let d = filter.department { conditions.append("lower(r.department) = lower(\(bind(d)))") }
        if let q = filter.text { conditions.append("r.search @@ websearch_to_tsquery('simple', \(bind(q)))") }
        switch filter.sla {
        case .atRisk?:
            let now = bind(filter.now)
            conditions.append("r.sla_due_at IS NOT NULL AND r.sla_met_at IS NULL AND r.sla_at_risk_at <= \(now) AND r.sla_due_at > \(now)")
        case .breached?:
            let now = bind(filter.now)
            conditions.append("r.sla_due_at IS NOT NULL AND ((r.sla_met_at IS NULL AND r.sla_due_at <= \(now)) OR r.sla_met_at >= r.sla_due_at)")
        case nil: break
        }
        return conditions
    }

    /// Requests per state, for the metrics page.
    public static func countByState(on client: PostgresClient, logger: Logger) async throws -> [RequestState: Int] {
        var out: [RequestState: Int] = [:]
        for try await (state, n) in try await client.query("SELECT state, count(*)::int8 FROM requests GROUP BY state", logger: logger)
            .decode((String, Int64).self)
        {
            if let s = RequestState(rawValue: state) { out[s] = Int(n) }
        }
        return out
    }

    /// A row of `columns`, by position in their order.
    static func decode(_ row: PostgresRow) throws -> RequestRecord {
        let r = row.makeRandomAccess()
        var record = RequestRecord(
            id: try r[0].decode(UUID.self),
            kind: RequestKind(rawValue: try r[1].decode(String.self))!,
            state: RequestState(rawValue: try r[2].decode(String.self))!,
            version: try r[3].decode(Int.self),
            department: try r[4].decode(String.self),
            division: try r[5].decode(String.self),
            assigneeID: try r[6].decode(UUID?.self),
            assigneeEmail: try r[7].decode(String?.self),
            checklist: try Checklist.fromStored(try r[8].decode(String.self)),
            optionalModules: try r[9].decode([String].self).compactMap(OptionalModule.init(rawValue:)),
            notes: try r[10].decode(String.self),
            signOffDecision: try r[11].decode(String?.self).flatMap(SignOffDecision.init(rawValue:)),
            previewURL: try r[12].decode(String?.self),
            liveURL: try r[13].decode(String?.self),
            auditOutcome: try r[14].decode(String?.self).flatMap(AuditOutcome.init(rawValue:)),
            infoCompleteAt: try r[15].decode(Date?.self),
            createdAt: try r[16].decode(Date.self),
            updatedAt: try r[17].decode(Date.self),
            sla: try r[19].decode(Date?.self).map { due in
                StoredSLA(
                    startedAt: try r[18].decode(Date.self), dueAt: due, atRiskAt: try r[20].decode(Date.self),
                    metAt: try r[21].decode(Date?.self), calendarVersion: try r[22].decode(String.self))
            },
            stateEnteredAt: try r[23].decode(Date.self))
        record.reference = try r[24].decode(String.self)
        return record
    }
}
