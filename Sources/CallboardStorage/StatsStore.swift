import CallboardDomain
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
        /// The first instant of each calendar month the span touches (London), and the months' keys.
        public var monthStarts: [Date] = []
        public var monthKeys: [String] = []

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

    /// ` AND <column> IN (requests the filters select)`, or nothing without filters (most calls):
    /// the figures then read their own tables alone.
    fileprivate static func only(_ column: String, _ s: Scope, _ b: inout SQLBinds) -> String {
        var conditions: [String] = []
        if let d = s.division { conditions.append("r.division = \(b.add(d))") }
        if let d = s.department { conditions.append("lower(r.department) = lower(\(b.add(d)))") }
        if let k = s.kind { conditions.append("r.kind = \(b.add(k))") }
        if conditions.isEmpty { return "" }
        return " AND \(column) IN (SELECT id FROM requests r WHERE " + conditions.joined(separator: " AND ") + ")"
    }

    /// The month (of `monthKeys`) an instant falls in, as SQL: a comparison with each month's first
    /// instant, much cheaper per row than converting every timestamp to London time.
    fileprivate static func month(_ instant: String, _ s: Scope, _ b: inout SQLBinds) -> String {
        "width_bucket(\(instant), \(b.add(s.monthStarts))::timestamptz[])"
    }

    fileprivate static func key(_ bucket: Int32, _ s: Scope) -> String {
        bucket >= 1 && Int(bucket) <= s.monthKeys.count ? s.monthKeys[Int(bucket) - 1] : "outside"
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

    /// After every stretch was counted again: the figures read the stretches through index-only
    /// scans, which visit every row again until the rewritten pages are vacuumed.
    public static func vacuumIntervals(on client: PostgresClient, logger: Logger) async throws {
        try await client.query("VACUUM (ANALYZE) request_intervals", logger: logger)
    }

    /// The calendar the stretches' working days were counted with.
    public static func calendarInUse(on client: PostgresClient, logger: Logger) async throws -> String? {
        try await client.query("SELECT calendar_version FROM stats_calendar", logger: logger).collect().first?.decode(String.self)
    }

    /// Puts `version` in use: new stretches count by it from now, and every stretch is counted again.
    /// Returns the stretches counted.
    public static func useCalendar(_ version: String, on client: PostgresClient, logger: Logger) async throws -> Int {
        try await client.query(
            """
            INSERT INTO stats_calendar (calendar_version) VALUES (\(version))
            ON CONFLICT (only_row) DO UPDATE SET calendar_version = excluded.calendar_version
            """, logger: logger)
        let rows = try await client.query("SELECT request_intervals_count_working_days(\(version))", logger: logger).collect()
        return Int(try rows.first?.decode(Int64.self) ?? 0)
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
            SELECT \(month("r.sla_due_at - interval '1 second'", s, &b)) AS month,
                   count(*) FILTER (WHERE r.sla_met_at < r.sla_due_at)::int8,
                   count(*) FILTER (WHERE r.sla_met_at >= r.sla_due_at OR (r.sla_met_at IS NULL AND r.sla_due_at <= \(b.add(s.now))))::int8
            FROM requests r
            WHERE r.sla_due_at IS NOT NULL AND r.state <> 'withdrawn'
              AND r.sla_due_at > \(b.add(s.from)) AND r.sla_due_at <= \(b.add(s.to))\(only("r.id", s, &b))
            GROUP BY 1 ORDER BY 1
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (m, k, n) = try row.decode((Int32, Int64, Int64).self)
            return PromiseRow(month: key(m, s), kept: Int(k), broken: Int(n))
        }.filter { $0.kept + $0.broken > 0 && $0.month != "outside" }
    }

    /// Open promises now: breached (due passed unmet) and at risk (at most a working day left).
    public static func promiseNow(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> (breached: Int, atRisk: Int) {
        var b = SQLBinds()
        let now = b.add(s.now)
        let sql = """
            SELECT count(*) FILTER (WHERE r.sla_due_at <= \(now))::int8,
                   count(*) FILTER (WHERE r.sla_at_risk_at <= \(now) AND r.sla_due_at > \(now))::int8
            FROM requests r
            WHERE r.sla_due_at IS NOT NULL AND r.sla_met_at IS NULL AND r.state <> 'withdrawn'\(only("r.id", s, &b))
            """
        guard let row = try await client.query(b.query(sql), logger: logger).collect().first else { return (0, 0) }
        let (breached, risk) = try row.decode((Int64, Int64).self)
        return (Int(breached), Int(risk))
    }

    // MARK: - Stages

    /// How many requests took each value: whole working days, or calendar days to a tenth.
    public struct Distribution: Sendable {
        public var working: [(value: Double, count: Int)] = []
        public var calendar: [(value: Double, count: Int)] = []
    }

    /// Per stage, the requests whose time in it (every stretch summed) ended in the span: the
    /// distribution of their working and calendar days, for percentiles worked out by the caller.
    /// One scan of the stretches not superseded, grouped by stage, working days and tenths of a day.
    public static func stageDistributions(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [String: Distribution] {
        var b = SQLBinds()
        let sql = """
            SELECT stage, total_working, round(total_seconds / 8640)::int8, count(*)::int8 FROM request_intervals
            WHERE stage IS NOT NULL AND NOT superseded AND left_at >= \(b.add(s.from)) AND left_at < \(b.add(s.to))\(only("request_id", s, &b))
            GROUP BY 1, 2, 3
            """
        return try await distributions(binds: b, sql: sql, on: client, logger: logger)
    }

    /// For requests that first went live in the span: end to end (the sum of all their stretches,
    /// which run from the request to going live) under the key `end_to_end`.
    public static func endToEndDistribution(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> Distribution {
        var b = SQLBinds()
        let sql = """
            WITH live AS (
                SELECT request_id FROM request_intervals
                WHERE left_by = 'go_live' AND left_at >= \(b.add(s.from)) AND left_at < \(b.add(s.to))\(only("request_id", s, &b))
            ), whole AS (
                SELECT i.request_id, sum(i.total_seconds) AS seconds,
                       CASE WHEN count(i.total_working) = count(*) THEN sum(i.total_working) END AS working
                FROM request_intervals i JOIN live ON live.request_id = i.request_id
                WHERE i.stage IS NOT NULL AND NOT i.superseded GROUP BY i.request_id
            )
            SELECT 'end_to_end', working::int4, round(seconds / 8640)::int8, count(*)::int8 FROM whole GROUP BY 2, 3
            """
        return try await distributions(binds: b, sql: sql, on: client, logger: logger)["end_to_end"] ?? .init()
    }

    private static func distributions(binds: SQLBinds, sql: String, on client: PostgresClient, logger: Logger) async throws
        -> [String: Distribution]
    {
        var working: [String: [Int32: Int]] = [:]
        var calendar: [String: [Int64: Int]] = [:]
        for row in try await client.query(binds.query(sql), logger: logger).collect() {
            let (stage, days, tenths, n) = try row.decode((String, Int32?, Int64, Int64).self)
            if let days { working[stage, default: [:]][days, default: 0] += Int(n) }
            calendar[stage, default: [:]][tenths, default: 0] += Int(n)
        }
        var out: [String: Distribution] = [:]
        for (stage, counts) in calendar {
            out[stage] = Distribution(
                working: (working[stage] ?? [:]).map { (Double($0.key), $0.value) }, calendar: counts.map { (Double($0.key) / 10, $0.value) })
        }
        return out
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
        let sql = """
            WITH live AS (
                SELECT request_id FROM request_intervals
                WHERE left_by = 'go_live' AND left_at >= \(b.add(s.from)) AND left_at < \(b.add(s.to))\(only("request_id", s, &b))
            )
            SELECT i.stage, count(*)::int8, sum(i.total_seconds)::float8, coalesce(sum(i.total_working), 0)::int8
            FROM request_intervals i JOIN live ON live.request_id = i.request_id
            WHERE i.stage IS NOT NULL AND NOT i.superseded
            GROUP BY i.stage
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
            WITH happened AS (
                SELECT created_at AS at, 'created' AS what FROM requests WHERE created_at >= \(from) AND created_at < \(to)\(only("id", s, &b))
                UNION ALL
                SELECT left_at, 'withdrawn' FROM request_intervals
                WHERE left_by = 'withdraw' AND left_at >= \(from) AND left_at < \(to)\(only("request_id", s, &b))
                UNION ALL
                SELECT left_at, 'live' FROM request_intervals
                WHERE left_by = 'go_live' AND left_at >= \(from) AND left_at < \(to)\(only("request_id", s, &b))
            )
            SELECT \(month("at", s, &b)),
                   count(*) FILTER (WHERE what = 'created')::int8, count(*) FILTER (WHERE what = 'withdrawn')::int8,
                   count(*) FILTER (WHERE what = 'live')::int8
            FROM happened GROUP BY 1 ORDER BY 1
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (m, c, w, l) = try row.decode((Int32, Int64, Int64, Int64).self)
            return FlowRow(month: key(m, s), created: Int(c), withdrawn: Int(w), wentLive: Int(l))
        }.filter { $0.month != "outside" }
    }

    public struct OpenRow: Sendable {
        public var state: String
        public var count: Int
        public var medianAgeDays: Double?
        public var oldestAgeDays: Double?
    }

    /// Requests open now, by state, with their age since created in calendar days (to a tenth):
    /// the median and the oldest worked out in SQL, read off the state index alone.
    public static func openNow(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [OpenRow] {
        var b = SQLBinds()
        let age = "round(extract(epoch FROM \(b.add(s.now)) - created_at) / 8640)"
        let open = RequestState.allCases.filter { ![.live, .productAudit, .withdrawn].contains($0) }.map(\.rawValue)
        let sql = """
            SELECT state, count(*)::int8, (percentile_cont(0.5) WITHIN GROUP (ORDER BY \(age)) / 10)::float8, (max(\(age)) / 10)::float8
            FROM requests WHERE state = ANY(\(b.add(open))::text[])\(only("id", s, &b))
            GROUP BY 1
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (state, n, median, oldest) = try row.decode((String, Int64, Double, Double).self)
            return OpenRow(state: state, count: Int(n), medianAgeDays: median, oldestAgeDays: oldest)
        }
    }

    // MARK: - Reminders

    public static func remindersSent(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [(month: String, kind: String, sent: Int)]
    {
        var b = SQLBinds()
        let sql = """
            SELECT \(month("e.sent_at", s, &b)), rm.kind, count(DISTINCT e.id)::int8
            FROM reminders rm JOIN reminder_emails re ON re.reminder_key = rm.dedup_key JOIN emails e ON e.id = re.email_id
            WHERE e.status = 'sent' AND e.sent_at >= \(b.add(s.from)) AND e.sent_at < \(b.add(s.to))\(only("rm.request_id", s, &b))
            GROUP BY 1, 2 ORDER BY 1, 2
            """
        return try await client.query(b.query(sql), logger: logger).collect().map { row in
            let (m, k, n) = try row.decode((Int32, String, Int64).self)
            return (key(m, s), k, Int(n))
        }
    }

    /// Reminders owed in the span per kind, and how many were settled within 2 working days (by
    /// the request's division and the calendar in use).
    public static func reminderFollowUp(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [(
        kind: String, owed: Int, followed: Int
    )] {
        var b = SQLBinds()
        let version = b.add(s.calendarVersion)
        let sql = """
            SELECT rm.kind, count(*)::int8,
                   count(*) FILTER (WHERE rm.settled_at IS NOT NULL AND ob.ordinal - oa.ordinal <= 2)::int8
            FROM reminders rm JOIN requests r ON r.id = rm.request_id
            LEFT JOIN working_day_ordinals oa ON oa.calendar_version = \(version) AND oa.division = r.division
                 AND oa.day = (rm.created_at AT TIME ZONE 'Europe/London')::date
            LEFT JOIN working_day_ordinals ob ON ob.calendar_version = \(version) AND ob.division = r.division
                 AND ob.day = (rm.settled_at AT TIME ZONE 'Europe/London')::date
            WHERE rm.created_at >= \(b.add(s.from)) AND rm.created_at < \(b.add(s.to))\(only("rm.request_id", s, &b))
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

    /// Data sets of the selected requests (at most 500), with the first upload per period ending
    /// on or after the span's start.
    public static func dataSets(_ s: Scope, on client: PostgresClient, logger: Logger) async throws -> [DataSetRow] {
        var b = SQLBinds()
        let sql = """
            SELECT d.id, d.request_id, r.reference, d.name, d.cadence, d.due_working_days, r.division, d.created_at,
                   coalesce(array_agg(u.period_start::timestamp AT TIME ZONE 'UTC' ORDER BY u.period_start) FILTER (WHERE u.period_start IS NOT NULL), '{}'),
                   coalesce(array_agg(u.received ORDER BY u.period_start) FILTER (WHERE u.period_start IS NOT NULL), '{}')
            FROM data_sets d JOIN requests r ON r.id = d.request_id
            LEFT JOIN LATERAL (
                SELECT period_start, min(received_at) AS received FROM data_set_uploads
                WHERE data_set_id = d.id AND period_end >= (\(b.add(s.from)) AT TIME ZONE 'Europe/London')::date
                GROUP BY period_start
            ) u ON true
            WHERE true\(only("d.request_id", s, &b))
            GROUP BY d.id, r.reference, r.division
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
