import Foundation
import Logging
import PostgresNIO

/// The queries behind the team's figures (docs/team-performance.md). Each reads the requests the
/// filters select; spans are half-open instants [from, to). Working days come from
/// `working_day_ordinals` for the calendar version given (see `ensureOrdinals`).
public enum StatsStore {
    public struct Scope: Sendable {
        public var from: Date
        public var to: Date
        public var now: Date
        public var division: String?
        public var department: String?
        public var kind: String?
        public var calendarVersion: String

        public init(from: Date, to: Date, now: Date, division: String?, department: String?, kind: String?, calendarVersion: String) {
            self.from = from
            self.to = to
            self.now = now
            self.division = division
            self.department = department
            self.kind = kind
            self.calendarVersion = calendarVersion
        }
    }

    /// The filtered requests as a CTE named `scoped` (id, division, created_at, state).
    fileprivate static func scoped(_ s: Scope, _ b: inout SQLBinds) -> String {
        """
        scoped AS MATERIALIZED (
            SELECT id, division, created_at, state FROM requests r
            WHERE (\(b.add(s.division))::text IS NULL OR r.division = $\(b.bindings.count))
              AND (\(b.add(s.department))::text IS NULL OR lower(r.department) = lower($\(b.bindings.count)))
              AND (\(b.add(s.kind))::text IS NULL OR r.kind = $\(b.bindings.count))
        )
        """
    }

    /// Working days between two instants for a division: `ordinal(b) - ordinal(a)`, via joins the caller names.
    fileprivate static func ordinalJoin(_ alias: String, division: String, instant: String, version: String) -> String {
        """
        LEFT JOIN working_day_ordinals \(alias) ON \(alias).calendar_version = \(version) AND \(alias).division = \(division)
             AND \(alias).day = (\(instant) AT TIME ZONE 'Europe/London')::date
        """
    }

    // MARK: - Working-day ordinals

    /// Whether a calendar version's ordinals are stored.
    public static func hasOrdinals(version: String, on client: PostgresClient, logger: Logger) async throws -> Bool {
        try await client.query(
            "SELECT 1 FROM working_day_ordinals WHERE calendar_version = \(version) LIMIT 1", logger: logger
        ).collect().count == 1
    }

    /// Stores one division's ordinals for a version (days and ordinals as parallel arrays), once.
    public static func saveOrdinals(
        version: String, division: String, days: [Date], ordinals: [Int32], on conn: PostgresConnection, logger: Logger
    ) async throws {
        try await conn.query(
            """
            INSERT INTO working_day_ordinals (calendar_version, division, day, ordinal)
            SELECT \(version), \(division), (d AT TIME ZONE 'UTC')::date, o FROM unnest(\(days)::timestamptz[], \(ordinals)::int4[]) AS t(d, o)
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    public static func analyzeOrdinals(on client: PostgresClient, logger: Logger) async throws {
        try await client.query("ANALYZE working_day_ordinals", logger: logger)
    }

    // MARK: - The preview promise

    public struct PromiseRow: Sendable {
        public var month: String
        public var kept: Int
        public var broken: Int
    }

    /// Promises that fell due in the span (by the London date they were due), kept when the
    /// preview was published before the due instant recorded when the promise started (as re-dated
    /// by a division move). Unmet promises whose due instant has not passed, and withdrawn
    /// requests, are not counted.
    public static func promiseByMonth(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [PromiseRow] {
        var b = SQLBinds()
        let sql = """
            WITH \(scoped(s, &b))
            SELECT to_char(((r.sla_due_at - interval '1 second') AT TIME ZONE 'Europe/London'), 'YYYY-MM') AS month,
                   count(*) FILTER (WHERE r.sla_met_at < r.sla_due_at)::int8,
                   count(*) FILTER (WHERE r.sla_met_at >= r.sla_due_at OR (r.sla_met_at IS NULL AND r.sla_due_at <= \(b.add(s.now))))::int8
            FROM requests r JOIN scoped ON scoped.id = r.id
            WHERE r.sla_due_at IS NOT NULL AND r.state <> 'withdrawn'
              AND r.sla_due_at > \(b.add(s.from)) AND r.sla_due_at <= \(b.add(s.to))
            GROUP BY 1 ORDER BY 1
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (m, k, n) = try row.decode((String, Int64, Int64).self)
            return PromiseRow(month: m, kept: Int(k), broken: Int(n))
        }.filter { $0.kept + $0.broken > 0 }
    }

    /// Open promises now: breached (due passed unmet) and at risk (at most a working day left).
    public static func promiseNow(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> (breached: Int, atRisk: Int) {
        var b = SQLBinds()
        let now = b.add(s.now)
        let sql = """
            WITH \(scoped(s, &b))
            SELECT count(*) FILTER (WHERE r.sla_due_at <= \(now))::int8,
                   count(*) FILTER (WHERE r.sla_at_risk_at <= \(now) AND r.sla_due_at > \(now))::int8
            FROM requests r JOIN scoped ON scoped.id = r.id
            WHERE r.sla_due_at IS NOT NULL AND r.sla_met_at IS NULL AND r.state <> 'withdrawn'
            """
        guard let row = try await client.query(b.query(sql), logger: logger).collect().first else { return (0, 0) }
        let (breached, risk) = try row.decode((Int64, Int64).self)
        return (Int(breached), Int(risk))
    }

    // MARK: - Stages

    public struct StageRow: Sendable {
        public var stage: String
        public var count: Int
        public var workingMedian: Double?
        public var workingP90: Double?
        public var calendarMedian: Double?
        public var calendarP90: Double?
    }

    /// The SQL name of each stretch's stage, as `Stage.of(_:approved:)` decides it.
    static let stageCase = """
        CASE i.state WHEN 'requested' THEN 'information' WHEN 'info_complete' THEN 'awaiting_sign_off_request'
                     WHEN 'signoff_pending' THEN CASE WHEN i.approved THEN 'build' ELSE 'sign_off' END
                     WHEN 'built' THEN 'preview' WHEN 'preview_published' THEN 'go_live' END
        """

    /// Per request and stage, every stretch in it summed; counted in the span its last stretch ended in.
    /// The last row (stage `end_to_end`) is created to first live, for requests that went live in the span.
    public static func stageDurations(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [StageRow] {
        var b = SQLBinds()
        let version = b.add(s.calendarVersion)
        let from = b.add(s.from)
        let to = b.add(s.to)
        let sql = """
            WITH \(scoped(s, &b)),
            stretches AS (
                SELECT i.request_id, \(stageCase) AS stage, i.left_at,
                       extract(epoch FROM i.left_at - i.entered_at) AS seconds,
                       greatest(ob.ordinal - oa.ordinal, 0) AS working
                FROM request_intervals i JOIN scoped ON scoped.id = i.request_id
                \(ordinalJoin("oa", division: "scoped.division", instant: "i.entered_at", version: version))
                \(ordinalJoin("ob", division: "scoped.division", instant: "i.left_at", version: version))
                -- A stretch cut short by withdrawal finished no stage.
                WHERE i.state IN ('requested', 'info_complete', 'signoff_pending', 'built', 'preview_published') AND i.left_by <> 'withdraw'
                  AND i.request_id IN (SELECT request_id FROM request_intervals WHERE left_at >= \(from) AND left_at < \(to))
            ), per_request AS (
                SELECT request_id, stage, sum(seconds) AS seconds, sum(working) AS working, max(left_at) AS ended
                FROM stretches GROUP BY request_id, stage
            ), live AS (
                SELECT i.request_id, min(i.left_at) AS live_at FROM request_intervals i JOIN scoped ON scoped.id = i.request_id
                WHERE i.left_by = 'go_live' GROUP BY i.request_id
            ), end_to_end AS (
                SELECT 'end_to_end' AS stage, extract(epoch FROM live.live_at - scoped.created_at) AS seconds,
                       greatest(ob.ordinal - oa.ordinal, 0) AS working
                FROM live JOIN scoped ON scoped.id = live.request_id
                \(ordinalJoin("oa", division: "scoped.division", instant: "scoped.created_at", version: version))
                \(ordinalJoin("ob", division: "scoped.division", instant: "live.live_at", version: version))
                WHERE live.live_at >= \(from) AND live.live_at < \(to)
            ), measured AS (
                SELECT stage, seconds, working FROM per_request WHERE ended >= \(from) AND ended < \(to)
                UNION ALL SELECT stage, seconds, working FROM end_to_end
            )
            SELECT stage, count(*)::int8,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY working), percentile_cont(0.9) WITHIN GROUP (ORDER BY working),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) / 86400, percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) / 86400
            FROM measured GROUP BY stage
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (stage, n, wm, w9, cm, c9) = try row.decode((String, Int64, Double?, Double?, Double?, Double?).self)
            return StageRow(stage: stage, count: Int(n), workingMedian: wm, workingP90: w9, calendarMedian: cm, calendarP90: c9)
        }
    }

    public struct ShareRow: Sendable {
        public var stage: String
        public var requests: Int
        public var seconds: Double
        public var workingDays: Int
    }

    /// For requests that first went live in the span: each stage's total time across them.
    public static func whereTimeGoes(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [ShareRow] {
        var b = SQLBinds()
        let version = b.add(s.calendarVersion)
        let sql = """
            WITH \(scoped(s, &b)),
            live AS (
                SELECT i.request_id FROM request_intervals i JOIN scoped ON scoped.id = i.request_id
                WHERE i.left_by = 'go_live' GROUP BY i.request_id
                HAVING min(i.left_at) >= \(b.add(s.from)) AND min(i.left_at) < \(b.add(s.to))
            )
            SELECT \(stageCase) AS stage, count(DISTINCT i.request_id)::int8,
                   coalesce(sum(extract(epoch FROM i.left_at - i.entered_at)), 0)::float8,
                   coalesce(sum(greatest(ob.ordinal - oa.ordinal, 0)), 0)::int8
            FROM request_intervals i JOIN live ON live.request_id = i.request_id JOIN scoped ON scoped.id = i.request_id
            \(ordinalJoin("oa", division: "scoped.division", instant: "i.entered_at", version: version))
            \(ordinalJoin("ob", division: "scoped.division", instant: "i.left_at", version: version))
            WHERE i.state IN ('requested', 'info_complete', 'signoff_pending', 'built', 'preview_published')
            GROUP BY 1
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (stage, n, secs, wd) = try row.decode((String, Int64, Double, Int64).self)
            return ShareRow(stage: stage, requests: Int(n), seconds: secs, workingDays: Int(wd))
        }
    }

    // MARK: - Flow

    public struct FlowRow: Sendable {
        public var month: String
        public var created: Int
        public var withdrawn: Int
        public var wentLive: Int
    }

    public static func flowByMonth(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [FlowRow] {
        var b = SQLBinds()
        let from = b.add(s.from)
        let to = b.add(s.to)
        let sql = """
            WITH \(scoped(s, &b)),
            happened AS (
                SELECT created_at AS at, 'created' AS what FROM scoped WHERE created_at >= \(from) AND created_at < \(to)
                UNION ALL
                SELECT i.left_at, 'withdrawn' FROM request_intervals i JOIN scoped ON scoped.id = i.request_id
                WHERE i.left_by = 'withdraw' AND i.left_at >= \(from) AND i.left_at < \(to)
                UNION ALL
                SELECT min(i.left_at), 'live' FROM request_intervals i JOIN scoped ON scoped.id = i.request_id
                WHERE i.left_by = 'go_live' GROUP BY i.request_id HAVING min(i.left_at) >= \(from) AND min(i.left_at) < \(to)
            )
            SELECT to_char(at AT TIME ZONE 'Europe/London', 'YYYY-MM'),
                   count(*) FILTER (WHERE what = 'created')::int8, count(*) FILTER (WHERE what = 'withdrawn')::int8,
                   count(*) FILTER (WHERE what = 'live')::int8
            FROM happened GROUP BY 1 ORDER BY 1
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (m, c, w, l) = try row.decode((String, Int64, Int64, Int64).self)
            return FlowRow(month: m, created: Int(c), withdrawn: Int(w), wentLive: Int(l))
        }
    }

    public struct OpenRow: Sendable {
        public var state: String
        public var count: Int
        public var medianAgeDays: Double?
        public var oldestAgeDays: Double?
    }

    /// Requests open now, by state, with their age since created in calendar days.
    public static func openNow(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [OpenRow] {
        var b = SQLBinds()
        let now = b.add(s.now)
        let sql = """
            WITH \(scoped(s, &b))
            SELECT state, count(*)::int8,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM \(now) - created_at)) / 86400,
                   max(extract(epoch FROM \(now) - created_at))::float8 / 86400
            FROM scoped WHERE state NOT IN ('live', 'product_audit', 'withdrawn')
            GROUP BY state
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (state, n, med, old) = try row.decode((String, Int64, Double?, Double?).self)
            return OpenRow(state: state, count: Int(n), medianAgeDays: med, oldestAgeDays: old)
        }
    }

    // MARK: - Reminders

    public static func remindersSent(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [(month: String, kind: String, sent: Int)]
    {
        var b = SQLBinds()
        let sql = """
            WITH \(scoped(s, &b))
            SELECT to_char(e.sent_at AT TIME ZONE 'Europe/London', 'YYYY-MM'), rm.kind, count(DISTINCT e.id)::int8
            FROM reminders rm JOIN scoped ON scoped.id = rm.request_id
            JOIN reminder_emails re ON re.reminder_key = rm.dedup_key JOIN emails e ON e.id = re.email_id
            WHERE e.status = 'sent' AND e.sent_at >= \(b.add(s.from)) AND e.sent_at < \(b.add(s.to))
            GROUP BY 1, 2 ORDER BY 1, 2
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (m, k, n) = try row.decode((String, String, Int64).self)
            return (m, k, Int(n))
        }
    }

    /// Reminders owed in the span per kind, and how many were settled within 2 working days.
    public static func reminderFollowUp(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [(
        kind: String, owed: Int, followed: Int
    )] {
        var b = SQLBinds()
        let version = b.add(s.calendarVersion)
        let sql = """
            WITH \(scoped(s, &b))
            SELECT rm.kind, count(*)::int8,
                   count(*) FILTER (WHERE rm.settled_at IS NOT NULL AND ob.ordinal - oa.ordinal <= 2)::int8
            FROM reminders rm JOIN scoped ON scoped.id = rm.request_id
            \(ordinalJoin("oa", division: "scoped.division", instant: "rm.created_at", version: version))
            \(ordinalJoin("ob", division: "scoped.division", instant: "rm.settled_at", version: version))
            WHERE rm.created_at >= \(b.add(s.from)) AND rm.created_at < \(b.add(s.to))
            GROUP BY 1 ORDER BY 1
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (k, n, f) = try row.decode((String, Int64, Int64).self)
            return (k, Int(n), Int(f))
        }
    }

    // MARK: - Uploads

    public struct DataSetRow: Sendable {
        public var id: UUID
        public var requestID: UUID
        public var reference: String
        public var name: String
        public var cadence: String
        public var dueWorkingDays: Int
        public var division: String
        public var createdAt: Date
        /// Each period's first day and when its first upload arrived.
        public var received: [(periodStart: Date, at: Date)]
    }

    /// Data sets of the selected requests, with the first upload per period ending in or after the span's start.
    public static func dataSets(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [DataSetRow] {
        var b = SQLBinds()
        let sql = """
            WITH \(scoped(s, &b))
            SELECT d.id, d.request_id, r.reference, d.name, d.cadence, d.due_working_days, scoped.division, d.created_at,
                   coalesce(array_agg(u.period_start::timestamp AT TIME ZONE 'UTC' ORDER BY u.period_start) FILTER (WHERE u.period_start IS NOT NULL), '{}'),
                   coalesce(array_agg(u.received ORDER BY u.period_start) FILTER (WHERE u.period_start IS NOT NULL), '{}')
            FROM data_sets d JOIN scoped ON scoped.id = d.request_id JOIN requests r ON r.id = d.request_id
            LEFT JOIN LATERAL (
                SELECT period_start, min(received_at) AS received FROM data_set_uploads
                WHERE data_set_id = d.id AND period_end >= (\(b.add(s.from)) AT TIME ZONE 'Europe/London')::date
                GROUP BY period_start
            ) u ON true
            GROUP BY d.id, r.reference, scoped.division
            ORDER BY r.reference, d.name
            LIMIT 500
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (id, rid, ref, name, cadence, due, division, created, starts, received) = try row.decode(
                (UUID, UUID, String, String, String, Int32, String, Date, [Date], [Date]).self)
            return DataSetRow(
                id: id, requestID: rid, reference: ref, name: name, cadence: cadence, dueWorkingDays: Int(due), division: division,
                createdAt: created, received: Array(zip(starts, received)).map { (periodStart: $0.0, at: $0.1) })
        }
    }
}
