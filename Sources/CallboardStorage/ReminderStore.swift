import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// A reminder a scheduler tick decided to queue: who hears and which emails carry it.
public struct NewReminder: Sendable {
    public var owed: OwedReminder
    public var requestID: UUID
    public var dataSetID: UUID?
    public var recipients: [String]

    public init(owed: OwedReminder, requestID: UUID, dataSetID: UUID?, recipients: [String]) {
        self.owed = owed
        self.requestID = requestID
        self.dataSetID = dataSetID
        self.recipients = recipients
    }
}

/// A data set due for the scheduler, with what its rule needs.
public struct DueDataSet: Sendable {
    public var dataSet: DataSetRecord
    public var requestState: RequestState
    public var division: String
    /// The periods (their starts) uploads were received for, of the last year and a half.
    public var receivedPeriods: Set<CivilDate>
}

/// The scheduler's tables: which rows are due, which reminders exist, and settling them.
public enum ReminderStore {
    /// Settling as CTEs to append to a statement's WITH list: marks the open reminders matching
    /// `condition` settled, cancels the queued emails that carried only settled reminders, and
    /// records each cancellation on its request. `version` is the request version the events carry;
    /// `after` names a CTE whose event the cancellations must follow in the history.
    static func settleCTEs(where condition: String, version: String, now: String, after: String? = nil) -> String {
        """
        settled AS (
            UPDATE reminders SET settled_at = \(now) WHERE \(condition) AND settled_at IS NULL RETURNING dedup_key
        ), cancelled AS (
            UPDATE emails e SET status = 'cancelled', updated_at = \(now)
            WHERE e.status = 'queued'
              AND e.id IN (SELECT re.email_id FROM reminder_emails re JOIN settled s ON s.dedup_key = re.reminder_key)
              -- A digest still carrying an unsettled reminder goes out.
              AND NOT EXISTS (SELECT 1 FROM reminder_emails o JOIN reminders r ON r.dedup_key = o.reminder_key
                              WHERE o.email_id = e.id AND r.settled_at IS NULL AND r.dedup_key NOT IN (SELECT dedup_key FROM settled))
            RETURNING e.id, e.request_id, e.kind, e.recipient, e.attempts
        ), cancel_events AS (
            INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
            SELECT c.request_id, \(version), 'email_cancelled', 'system', NULL, \(now),
                   jsonb_build_object('email_id', c.id, 'email_kind', c.kind, 'recipient', c.recipient, 'attempt', c.attempts,
                                      'detail', 'the reminder was settled')
            FROM cancelled c JOIN requests rq ON rq.id = c.request_id\(after.map { " CROSS JOIN \($0)" } ?? "")
            ORDER BY c.id
        )
        """
    }

    /// Settles the open reminders of a data set — those of exactly `periods` (uploads for them
    /// arrived), or all (nil: its uploaders or rule changed); returns how many emails were cancelled.
    /// Upload keys read `<data set>:upload:<period start>:<step>`.
    @discardableResult
    public static func settle(
        dataSetID: UUID, periods: [CivilDate]? = nil, at now: Date, on conn: PostgresConnection,
        logger: Logger
    ) async throws -> Int {
        var b = SQLBinds()
        var condition = "data_set_id = \(b.add(dataSetID))"
        if let p = periods { condition += " AND split_part(dedup_key, ':', 3) = ANY(\(b.add(p.map(\.description)))::text[])" }
        let sql =
            "WITH " + settleCTEs(where: condition, version: "rq.version", now: b.add(now))
            + " SELECT count(*)::int8 FROM cancelled"
        return Int(try await conn.query(b.query(sql), logger: logger).collect().first?.decode(Int64.self) ?? 0)
    }

    /// Requests whose rules may owe something at `now`, oldest first. With `lock`, rows are locked
    /// (others skipped) so concurrent schedulers split the work.
    public static func dueRequests(at now: Date, limit: Int, lock: Bool, on conn: PostgresConnection, logger: Logger) async throws -> [RequestRecord]
    {
        try await conn.run(NamedStatement(noNulls: dueRequestsQuery(at: now, limit: limit, lock: lock)), logger: logger).map(RequestStore.decode)
    }

    static func dueRequestsQuery(at now: Date, limit: Int, lock: Bool) -> PostgresQuery {
        var b = SQLBinds()
        let sql = """
            SELECT \(RequestStore.columns)
            FROM request_schedule q JOIN requests r ON r.id = q.request_id LEFT JOIN staff s ON s.id = r.assignee_id
            WHERE q.next_reminder_at <= \(b.add(now)) ORDER BY q.next_reminder_at LIMIT \(b.add(limit))
            \(lock ? "FOR UPDATE OF r SKIP LOCKED" : "")
            """
        return b.query(sql)
    }

    /// Data sets whose upload rule may owe something at `now`.
    public static func dueDataSets(at now: Date, limit: Int, lock: Bool, on conn: PostgresConnection, logger: Logger) async throws -> [DueDataSet] {
        var out: [DueDataSet] = []
        for row in try await conn.run(NamedStatement(noNulls: dueDataSetsQuery(at: now, limit: limit, lock: lock)), logger: logger) {
            let (id, rid, name, cadence, days, uploaders, created, updated, state, division, received) = try row.decode(
                (UUID, UUID, String, String, Int, String, Date, Date, String, String, [String]).self)
            out.append(
                DueDataSet(
                    dataSet: DataSetStore.record(
                        id: id, requestID: rid, name: name, cadence: cadence, dueDays: days, uploaders: uploaders,
                        created: created, updated: updated),
                    requestState: RequestState(rawValue: state) ?? .requested, division: division,
                    receivedPeriods: Set(received.compactMap(CivilDate.init(iso:)))))
        }
        return out
    }

    static func dueDataSetsQuery(at now: Date, limit: Int, lock: Bool) -> PostgresQuery {
        var b = SQLBinds()
        let sql = """
            SELECT d.id, d.request_id, d.name, d.cadence, d.due_working_days, d.uploaders::text, d.created_at, d.updated_at,
                   r.state, r.division,
                   -- The rule chases at most four finished periods (a year and a quarter for quarterly ones).
                   ARRAY(SELECT DISTINCT u.period_start::text FROM data_set_uploads u
                         WHERE u.data_set_id = d.id AND u.period_start >= (\(b.add(now))::timestamptz - interval '550 days')::date)
            FROM data_sets d JOIN requests r ON r.id = d.request_id
            WHERE d.next_reminder_at <= \(b.add(now)) ORDER BY d.next_reminder_at LIMIT \(b.add(limit))
            \(lock ? "FOR UPDATE OF d SKIP LOCKED FOR SHARE OF r SKIP LOCKED" : "")
            """
        return b.query(sql)
    }

    public static func fetchRequests(_ ids: [UUID], on conn: PostgresConnection, logger: Logger) async throws -> [UUID: RequestRecord] {
        guard !ids.isEmpty else { return [:] }
        var b = SQLBinds()
        let sql = "SELECT \(RequestStore.columns) FROM requests r LEFT JOIN staff s ON s.id = r.assignee_id WHERE r.id = ANY(\(b.add(ids)))"
        var out: [UUID: RequestRecord] = [:]
        for row in try await conn.query(b.query(sql), logger: logger).collect() {
            let r = try RequestStore.decode(row)
            out[r.id] = r
        }
        return out
    }

    /// When each row next needs looking at (nil: not until it changes).
    public static func setNext(table: Table, _ next: [UUID: Date?], on conn: PostgresConnection, logger: Logger) async throws {
        let timed = next.compactMap { id, at in at.map { (id, $0) } }
        let never = next.filter { $0.value == nil }.map(\.key)
        if !timed.isEmpty {
            var b = SQLBinds()
            let sql = """
                UPDATE \(table.rawValue) t SET next_reminder_at = v.at
                FROM unnest(\(b.add(timed.map(\.0)))::uuid[], \(b.add(timed.map(\.1)))::timestamptz[]) AS v(id, at)
                WHERE t.\(table.key) = v.id
                """
            _ = try await conn.run(b.statement(sql), logger: logger)
        }
        if !never.isEmpty {
            var b = SQLBinds()
            let sql = "UPDATE \(table.rawValue) SET next_reminder_at = NULL WHERE \(table.key) = ANY(\(b.add(never)))"
            _ = try await conn.run(b.statement(sql), logger: logger)
        }
    }

    /// Where each kind of row keeps its `next_reminder_at`: requests in their narrow table of their
    /// own (migration 0020), data sets on their row.
    public enum Table: String, Sendable {
        case requests = "request_schedule"
        case dataSets = "data_sets"

        var key: String {
            switch self {
            case .requests: "request_id"
            case .dataSets: "id"
            }
        }
    }

    /// Inserts the reminders, each new one with a `reminder_queued` event on its request; returns
    /// the dedup keys that were new (others were queued before, by this or another scheduler).
    public static func insert(_ reminders: [NewReminder], at now: Date, on conn: PostgresConnection, logger: Logger) async throws -> Set<String> {
        guard !reminders.isEmpty else { return [] }
        // One array a column (one statement text for any count); '' stands for no data set and
        // each recipient list travels as a JSON array (PostgresNIO binds neither NULL elements nor
        // ragged arrays).
        var b = SQLBinds()
        let source = """
            (SELECT u.dedup_key, u.rule, u.kind, u.step, u.request_id, nullif(u.data_set_id, '')::uuid AS data_set_id,
                    ARRAY(SELECT jsonb_array_elements_text(u.recipients::jsonb)) AS recipients
             FROM unnest(\(b.add(reminders.map(\.owed.dedupKey)))::text[], \(b.add(reminders.map(\.owed.kind.rule.rawValue)))::text[],
                         \(b.add(reminders.map(\.owed.kind.rawValue)))::text[], \(b.add(reminders.map(\.owed.step)))::int[],
                         \(b.add(reminders.map(\.requestID)))::uuid[], \(b.add(reminders.map { $0.dataSetID?.lowercasedString ?? "" }))::text[],
                         \(b.add(reminders.map { JSONText.encode(.array($0.recipients.map(JSONValue.string))) }))::text[])
                  AS u(dedup_key, rule, kind, step, request_id, data_set_id, recipients))
            """
        let at = b.add(now)
        let sql = """
            WITH ins AS (
                INSERT INTO reminders (dedup_key, rule, kind, step, request_id, data_set_id, recipients, created_at)
                SELECT v.*, \(at) FROM \(source) AS v
                ON CONFLICT (dedup_key) DO NOTHING RETURNING *
            ), ev AS (
                INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
                SELECT m.request_id, rq.version, 'reminder_queued', 'system', NULL, \(at),
                       jsonb_strip_nulls(jsonb_build_object('reminder', m.kind, 'step', m.step, 'recipients', to_jsonb(m.recipients),
                                                            'data_set_id', m.data_set_id, 'dedup_key', m.dedup_key))
                FROM ins m JOIN requests rq ON rq.id = m.request_id
                ORDER BY m.dedup_key
            )
            SELECT dedup_key FROM ins
            """
        return Set(try await conn.run(b.statement(sql), logger: logger).map { try $0.decode(String.self) })
    }

    /// Which of `keys` already exist (the dry run leaves those out).
    public static func existing(_ keys: [String], on conn: PostgresConnection, logger: Logger) async throws -> Set<String> {
        guard !keys.isEmpty else { return [] }
        return Set(
            try await conn.query("SELECT dedup_key FROM reminders WHERE dedup_key = ANY(\(keys))", logger: logger)
                .collect().map { try $0.decode(String.self) })
    }

    /// Links reminders to the emails carrying them (what settling cancels).
    public static func link(_ pairs: [(reminderKey: String, emailID: UUID)], on conn: PostgresConnection, logger: Logger) async throws {
        guard !pairs.isEmpty else { return }
        var b = SQLBinds()
        let sql = """
            INSERT INTO reminder_emails (reminder_key, email_id)
            SELECT * FROM unnest(\(b.add(pairs.map(\.reminderKey)))::text[], \(b.add(pairs.map(\.emailID)))::uuid[])
            ON CONFLICT DO NOTHING
            """
        _ = try await conn.run(b.statement(sql), logger: logger)
    }
}
