import CallboardDomain
import Foundation
import Logging
import PostgresNIO

public enum EmailStatus: String, CaseIterable, Codable, Sendable {
    case queued, sending, sent, failed, dead, cancelled, suppressed
}

/// An email to queue; rendered already, so workers only deliver.
public struct NewEmail: Sendable {
    public var id = UUID()
    public var requestID: UUID?
    public var kind: String
    public var recipient: String
    public var subject: String
    public var bodyText: String
    public var bodyHTML: String
    public var templateData: JSONValue
    public var dedupKey: String?
    public var runAt: Date
    public var maxAttempts: Int
    public var messageDomain: String
    public var messageID: String { "<\(id.lowercasedString)@\(messageDomain)>" }

    public init(
        requestID: UUID?, kind: String, recipient: String, subject: String, bodyText: String, bodyHTML: String,
        templateData: JSONValue, dedupKey: String?, runAt: Date, maxAttempts: Int, messageDomain: String
    ) {
        self.requestID = requestID
        self.kind = kind
        self.recipient = recipient
        self.subject = subject
        self.bodyText = bodyText
        self.bodyHTML = bodyHTML
        self.templateData = templateData
        self.dedupKey = dedupKey
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.messageDomain = messageDomain
    }
}

public struct EmailRecord: Sendable, Equatable {
    public var id: UUID
    public var requestID: UUID?
    public var kind: String
    public var recipient: String
    public var subject: String
    public var bodyText: String
    public var bodyHTML: String
    public var templateData: JSONValue
    public var dedupKey: String?
    public var status: EmailStatus
    public var runAt: Date
    public var attempts: Int
    public var maxAttempts: Int
    public var lastError: String?
    public var messageID: String
    public var createdAt: Date
    public var sentAt: Date?
}

public struct EmailAttempt: Sendable, Equatable {
    public var attempt: Int
    public var worker: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var outcome: String?
    public var error: String?
}

/// The outbox. Every change of an email's status is fenced by its attempt number, so a worker
/// presumed dead cannot overwrite a newer attempt, and is recorded as an event on its request.
public enum EmailStore {
    public static let channel = "callboard_email"
    static let columns = """
        id, request_id, kind, recipient, subject, body_text, body_html, template_data::text, dedup_key, status, run_at,
        attempts, max_attempts, last_error, message_id, created_at, sent_at
        """

    /// Queues one email (see `enqueueMany`); nil when its dedup key is already live or sent.
    public static func enqueue(_ e: NewEmail, at now: Date, on conn: PostgresConnection, logger: Logger) async throws -> EmailStatus? {
        try await enqueueMany([e], at: now, on: conn, logger: logger)[e.id]
    }

    /// New emails as a row source for `FROM … AS v` (columns id, request_id, kind, recipient,
    /// subject, body_text, body_html, template_data, dedup_key, run_at, max_attempts, message_id),
    /// bound into `binds` as one array a column: the text is the same for any number of emails, so
    /// a connection parses it once. PostgresNIO cannot bind an array holding NULL, so an absent
    /// request or dedup key travels as '' and becomes NULL again here (neither is ever empty).
    static func rowSource(_ emails: [NewEmail], _ binds: inout SQLBinds) -> String {
        """
        (SELECT u.id, nullif(u.request_id, '')::uuid AS request_id, u.kind, u.recipient, u.subject, u.body_text, u.body_html,
                u.template_data::jsonb AS template_data, nullif(u.dedup_key, '') AS dedup_key, u.run_at, u.max_attempts, u.message_id
         FROM unnest(\(binds.add(emails.map(\.id)))::uuid[], \(binds.add(emails.map { $0.requestID?.lowercasedString ?? "" }))::text[],
                     \(binds.add(emails.map(\.kind)))::text[], \(binds.add(emails.map(\.recipient)))::text[],
                     \(binds.add(emails.map(\.subject)))::text[], \(binds.add(emails.map(\.bodyText)))::text[],
                     \(binds.add(emails.map(\.bodyHTML)))::text[], \(binds.add(emails.map { JSONText.encode($0.templateData) }))::text[],
                     \(binds.add(emails.map { $0.dedupKey ?? "" }))::text[], \(binds.add(emails.map(\.runAt)))::timestamptz[],
                     \(binds.add(emails.map(\.maxAttempts)))::int[], \(binds.add(emails.map(\.messageID)))::text[])
              AS u(id, request_id, kind, recipient, subject, body_text, body_html, template_data, dedup_key, run_at, max_attempts, message_id))
        """
    }

    /// Queues emails in one statement: the rows (suppressed addresses marked so), their events on
    /// their requests, and the wake-up (delivered on commit). Emails whose dedup key is already
    /// live or sent are skipped; the result holds the status of each one queued, by id.
    public static func enqueueMany(_ emails: [NewEmail], at now: Date, on conn: PostgresConnection, logger: Logger) async throws -> [UUID:
        EmailStatus]
    {
        guard !emails.isEmpty else { return [:] }
        var binds = SQLBinds()
        let source = rowSource(emails, &binds)
        let nowBind = binds.add(now)
        let sql = """
            WITH ins AS (
                INSERT INTO emails (id, request_id, kind, recipient, subject, body_text, body_html, template_data, dedup_key, status,
                                    run_at, max_attempts, message_id, created_at, updated_at)
                SELECT v.id, v.request_id, v.kind, v.recipient, v.subject, v.body_text, v.body_html, v.template_data, v.dedup_key,
                       CASE WHEN EXISTS (SELECT 1 FROM email_suppressions WHERE address = lower(v.recipient)) THEN 'suppressed' ELSE 'queued' END,
                       v.run_at, v.max_attempts, v.message_id, \(nowBind), \(nowBind)
                FROM \(source) AS v
                ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND status IN ('queued', 'sending', 'sent') DO NOTHING
                RETURNING id, request_id, kind, recipient, status
            ), ev AS (
                INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
                SELECT ins.request_id, r.version, 'email_' || ins.status, 'system', NULL, \(nowBind),
                       jsonb_build_object('email_id', ins.id, 'email_kind', ins.kind, 'recipient', ins.recipient, 'attempt', 0)
                FROM ins JOIN requests r ON r.id = ins.request_id
            )
            SELECT ins.id, ins.status, (SELECT count(pg_notify(\(binds.add(channel)), '')) FROM ins WHERE ins.status = 'queued') FROM ins
            """
        var out: [UUID: EmailStatus] = [:]
        for row in try await conn.run(binds.statement(sql), logger: logger) {
            let (id, status, _) = try row.decode((UUID, String, Int64).self)
            out[id] = EmailStatus(rawValue: status)
        }
        return out
    }

    /// Claims up to `limit` due emails in one statement: status `sending`, attempt + 1, a lease.
    public static func claim(
        limit: Int, worker: String, leaseSeconds: Double, at now: Date, on client: PostgresClient,
        logger: Logger
    ) async throws -> [EmailRecord] {
        let rows = try await client.run(
            NamedStatement(
                noNulls: """
                    WITH next AS (
                        SELECT id FROM emails WHERE status = 'queued' AND run_at <= \(now)
                        ORDER BY run_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                    ), claimed AS (
                        UPDATE emails e SET status = 'sending', attempts = e.attempts + 1, lease_until = \(now.addingTimeInterval(leaseSeconds)),
                               leased_by = \(worker), claimed_at = \(now), updated_at = \(now)
                        FROM next WHERE e.id = next.id
                        RETURNING e.*
                    )
                    SELECT \(unescaped: columns) FROM claimed ORDER BY run_at
                    """), logger: logger)
        return try rows.map(decode)
    }

    /// Returns emails whose worker vanished (lease expired) to the queue, or marks them `dead` when
    /// that was their last attempt: an email that kills its worker every time stops being retried.
    @discardableResult
    public static func reclaimExpired(at now: Date, on client: PostgresClient, logger: Logger) async throws -> Int {
        let rows = try await client.run(
            NamedStatement(
                noNulls: """
                    WITH expired AS (
                        SELECT id, attempts, leased_by, claimed_at FROM emails WHERE status = 'sending' AND lease_until < \(now)
                        LIMIT 1000 FOR UPDATE SKIP LOCKED
                    ), done AS (
                        INSERT INTO email_attempts (email_id, attempt, worker, started_at, finished_at, outcome)
                        SELECT id, attempts, coalesce(leased_by, ''), coalesce(claimed_at, \(now)), \(now), 'lease_expired' FROM expired
                        ON CONFLICT DO NOTHING
                    ), returned AS (
                        UPDATE emails e SET status = CASE WHEN e.attempts >= e.max_attempts THEN 'dead' ELSE 'queued' END,
                               lease_until = NULL, leased_by = NULL, updated_at = \(now),
                               last_error = 'worker stopped before finishing; lease expired'
                        FROM expired WHERE e.id = expired.id
                        RETURNING e.id, e.request_id, e.kind, e.recipient, e.attempts, e.status, e.updated_at
                    ), hooks AS (
                        \(unescaped: deadHook("returned"))
                    ), event AS (
                        INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
                        SELECT returned.request_id, r.version, 'email_dead', 'system', NULL, \(now),
                               jsonb_build_object('email_id', returned.id, 'email_kind', returned.kind, 'recipient', returned.recipient,
                                                  'attempt', returned.attempts, 'detail', 'worker stopped before finishing; lease expired')
                        FROM returned JOIN requests r ON r.id = returned.request_id WHERE returned.status = 'dead'
                    )
                    SELECT id FROM returned
                    """), logger: logger)
        return rows.count
    }

    /// The fence on a batch of emails found by id: still `sending`, written so no index can answer
    /// it. Statistics see few emails `sending`, so for `e.status = 'sending'` the planner scanned
    /// every sending email in `emails_status_idx` for each of the batch's (8 ms to record 7
    /// outcomes with 800 emails out, 1.7 ms by primary key).
    static let stillSending = "(e.status = 'sending') IS TRUE"

    /// Extends the leases of a batch's emails whose attempt is still in progress (`sending` at that
    /// attempt), in one statement; returns how many were extended (none once every outcome is written
    /// or every attempt was fenced off).
    public static func heartbeat(_ leases: [(id: UUID, attempt: Int)], until: Date, on client: PostgresClient, logger: Logger) async throws
        -> Int
    {
        guard !leases.isEmpty else { return 0 }
        return try await client.run(
            NamedStatement(
                noNulls: """
                    UPDATE emails e SET lease_until = \(until)
                    FROM unnest(\(leases.map(\.id)), \(leases.map(\.attempt))) AS t(id, attempt)
                    WHERE e.id = t.id AND e.attempts = t.attempt AND \(unescaped: stillSending)
                    RETURNING e.id
                    """), logger: logger
        ).count
    }

    public enum Outcome: Sendable, Equatable {
        case sent
        case retry(at: Date, error: String)
        /// Permanent failure: `failed` at once (and the address suppressed), or `dead` after the last attempt.
        case failed(error: String, suppressAddress: Bool)
        case dead(error: String)
    }

    /// Records the outcome of attempt `attempt`; false when a newer attempt owns the email.
    @discardableResult
    public static func finish(id: UUID, attempt: Int, outcome: Outcome, at now: Date, on client: PostgresClient, logger: Logger) async throws -> Bool
    {
        try await finish([(id, attempt, outcome)], at: now, on: client, logger: logger).contains(id)
    }

    /// Records a batch of outcomes in one statement (plus one for any new suppressions), each fenced
    /// by its attempt number; returns the ids whose outcome was recorded.
    public static func finish(
        _ results: [(id: UUID, attempt: Int, outcome: Outcome)], at now: Date, on client: PostgresClient,
        logger: Logger
    ) async throws -> Set<UUID> {
        guard !results.isEmpty else { return [] }
        var ids: [UUID] = []
        var attempts: [Int] = []
        var statuses: [String] = []
        var runAts: [Date] = []
        var errors: [String] = []
        var suppressions: [(UUID, String)] = []
        for (id, attempt, outcome) in results {
            ids.append(id)
            attempts.append(attempt)
            switch outcome {
            case .sent:
                statuses.append("sent")
                runAts.append(now)
                errors.append("")
            case .retry(let at, let e):
                statuses.append("queued")
                runAts.append(at)
                errors.append(e)
            case .failed(let e, let bad):
                statuses.append("failed")
                runAts.append(now)
                errors.append(e)
                if bad { suppressions.append((id, e)) }
            case .dead(let e):
                statuses.append("dead")
                runAts.append(now)
                errors.append(e)
            }
        }
        let rows = try await client.run(
            NamedStatement(
                noNulls: """
                    WITH input AS (
                        SELECT * FROM unnest(\(ids), \(attempts), \(statuses), \(runAts), \(errors)) AS t(id, attempt, status, run_at, error)
                    ), done AS (
                        UPDATE emails e SET status = i.status,
                               run_at = CASE WHEN i.status = 'queued' THEN i.run_at ELSE e.run_at END,
                               last_error = coalesce(nullif(i.error, ''), e.last_error), lease_until = NULL, updated_at = \(now),
                               sent_at = CASE WHEN i.status = 'sent' THEN \(now) ELSE e.sent_at END
                        FROM input i WHERE e.id = i.id AND e.attempts = i.attempt AND \(unescaped: stillSending)
                        RETURNING e.id, e.request_id, e.kind, e.recipient, e.attempts, e.leased_by, e.claimed_at, i.status, nullif(i.error, '') AS error,
                                  e.updated_at
                    ), hooks AS (
                        \(unescaped: deadHook("done"))
                    ), attempt AS (
                        INSERT INTO email_attempts (email_id, attempt, worker, started_at, finished_at, outcome, error)
                        SELECT id, attempts, coalesce(leased_by, ''), coalesce(claimed_at, \(now)), \(now),
                               CASE status WHEN 'queued' THEN 'retry' ELSE status END, error
                        FROM done
                    ), event AS (
                        INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
                        SELECT done.request_id, r.version, CASE done.status WHEN 'sent' THEN 'email_sent' WHEN 'dead' THEN 'email_dead' ELSE 'email_failed' END,
                               'system', NULL, \(now),
                               jsonb_strip_nulls(jsonb_build_object('email_id', done.id, 'email_kind', done.kind, 'recipient', done.recipient,
                                                                    'attempt', done.attempts, 'detail', done.error))
                        FROM done JOIN requests r ON r.id = done.request_id
                    )
                    SELECT id FROM done
                    """), logger: logger)
        let recorded = Set(try rows.map { try $0.decode(UUID.self) })
        let toSuppress = suppressions.filter { recorded.contains($0.0) }
        if !toSuppress.isEmpty {
            try await client.transaction(logger: logger) { conn in
                for (id, error) in toSuppress {
                    guard let e = try await fetch(id, on: conn, logger: logger) else { continue }
                    try await suppress(e.recipient, reason: "permanent failure: \(error)", at: now, on: conn, logger: logger)
                }
            }
        }
        return recorded
    }

    /// Queues `email.dead` webhooks for the rows of CTE `from` that went dead: the email's id, kind,
    /// request and attempts (never its recipient or its words).
    static func deadHook(_ from: String) -> String {
        WebhookStore.insertFrom(
            type: .emailDead,
            data:
                "jsonb_build_object('email_id', \(from).id, 'email_kind', \(from).kind, 'request_id', \(from).request_id, 'attempts', \(from).attempts)",
            at: "\(from).updated_at", from: from, condition: "\(from).status = 'dead'")
    }

    /// Staff: stop a queued (or failed) email. Returns the email, or nil when it does not exist.
    public static func cancel(id: UUID, at now: Date, on client: PostgresClient, logger: Logger) async throws -> (EmailRecord, changed: Bool)? {
        try await client.transaction(logger: logger) { conn in
            let changed =
                try await conn.query(
                    """
                    UPDATE emails SET status = 'cancelled', updated_at = \(now) WHERE id = \(id) AND status IN ('queued', 'failed', 'dead')
                    RETURNING id
                    """, logger: logger
                ).collect().count == 1
            if changed { try await recordEvent(id, "email_cancelled", at: now, on: conn, logger: logger) }
            return try await fetch(id, on: conn, logger: logger).map { ($0, changed) }
        }
    }

    /// Staff: send again a failed, dead or cancelled email, with a fresh set of attempts.
    public static func retry(id: UUID, at now: Date, on client: PostgresClient, logger: Logger) async throws -> (EmailRecord, changed: Bool)? {
        try await client.transaction(logger: logger) { conn in
            let changed =
                try await conn.query(
                    """
                    UPDATE emails SET status = 'queued', run_at = \(now), max_attempts = attempts + \(RetryPolicy().maxAttempts), updated_at = \(now)
                    WHERE id = \(id) AND status IN ('failed', 'dead', 'cancelled')
                      AND NOT EXISTS (SELECT 1 FROM email_suppressions WHERE address = lower(emails.recipient))
                    RETURNING id
                    """, logger: logger
                ).collect().count == 1
            if changed {
                try await recordEvent(id, "email_queued", at: now, on: conn, logger: logger, detail: "retried by staff")
                try await conn.query("SELECT pg_notify(\(channel), '')", logger: logger)
            }
            return try await fetch(id, on: conn, logger: logger).map { ($0, changed) }
        }
    }

    /// Adds an address to the suppression list and marks its queued emails `suppressed`.
    public static func suppress(_ address: String, reason: String, at now: Date, on conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            """
            INSERT INTO email_suppressions (address, reason, created_at) VALUES (lower(\(address)), \(reason), \(now))
            ON CONFLICT (address) DO NOTHING
            """, logger: logger)
        let ids = try await conn.query(
            """
            UPDATE emails SET status = 'suppressed', updated_at = \(now) WHERE lower(recipient) = lower(\(address)) AND status = 'queued'
            RETURNING id
            """, logger: logger
        ).collect()
        for row in ids { try await recordEvent(try row.decode(UUID.self), "email_suppressed", at: now, on: conn, logger: logger) }
    }

    public static func unsuppress(_ address: String, on client: PostgresClient, logger: Logger) async throws -> Bool {
        try await client.query("DELETE FROM email_suppressions WHERE address = lower(\(address)) RETURNING address", logger: logger)
            .collect().count == 1
    }

    public static func suppressions(on client: PostgresClient, logger: Logger) async throws -> [(address: String, reason: String, createdAt: Date)] {
        var out: [(String, String, Date)] = []
        for try await row in try await client.query("SELECT address, reason, created_at FROM email_suppressions ORDER BY address", logger: logger)
            .decode((String, String, Date).self)
        { out.append(row) }
        return out
    }

    /// Cancels the queued emails with these dedup keys (the reminder they carried is settled).
    public static func cancelQueued(dedupKeys: [String], at now: Date, on conn: PostgresConnection, logger: Logger) async throws {
        let rows = try await conn.query(
            """
            UPDATE emails SET status = 'cancelled', updated_at = \(now) WHERE dedup_key = ANY(\(dedupKeys)) AND status = 'queued' RETURNING id
            """, logger: logger
        ).collect()
        for row in rows { try await recordEvent(try row.decode(UUID.self), "email_cancelled", at: now, on: conn, logger: logger) }
    }

    public static func fetch(_ id: UUID, on conn: PostgresConnection, logger: Logger) async throws -> EmailRecord? {
        try await decodeAll(conn.query("SELECT \(unescaped: columns) FROM emails WHERE id = \(id)", logger: logger)).first
    }

    public static func fetch(_ id: UUID, on client: PostgresClient, logger: Logger) async throws -> EmailRecord? {
        try await client.withConnection { try await fetch(id, on: $0, logger: logger) }
    }

    public static func attempts(_ id: UUID, on client: PostgresClient, logger: Logger) async throws -> [EmailAttempt] {
        var out: [EmailAttempt] = []
        for try await (n, w, s, f, o, e) in try await client.query(
            """
            SELECT attempt, worker, started_at, finished_at, outcome, error FROM email_attempts WHERE email_id = \(id) ORDER BY attempt
            """, logger: logger
        ).decode((Int, String, Date, Date?, String?, String?).self) {
            out.append(EmailAttempt(attempt: n, worker: w, startedAt: s, finishedAt: f, outcome: o, error: e))
        }
        return out
    }

    public struct Filter: Sendable {
        public var status: EmailStatus?
        public var requestID: UUID?
        public var recipient: String?
        public var kind: String?
        public init() {}
    }

    /// Newest first, paginated by (created_at, id).
    public static func list(_ f: Filter, after cursor: ListCursor?, limit: Int, on client: PostgresClient, logger: Logger) async throws
        -> (emails: [EmailRecord], next: ListCursor?)
    {
        var binds = SQLBinds()
        var conditions: [String] = []
        func bind(_ v: some PostgresNonThrowingEncodable) -> String { binds.add(v) }
        if let s = f.status { conditions.append("status = \(bind(s.rawValue))") }
        if let r = f.requestID { conditions.append("request_id = \(bind(r))") }
        if let r = f.recipient { conditions.append("lower(recipient) = lower(\(bind(r)))") }
        if let k = f.kind { conditions.append("kind = \(bind(k))") }
        if let c = cursor {
            conditions.append("(created_at, id) < ('epoch'::timestamptz + \(bind(c.createdMicros)) * interval '1 microsecond', \(bind(c.id)))")
        }
        let sql =
            "SELECT \(columns), (extract(epoch FROM created_at) * 1000000)::int8 AS created_us FROM emails "
            + (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY created_at DESC, id DESC LIMIT \(bind(limit + 1))"
        let rows = try await client.query(binds.query(sql), logger: logger).collect()
        var emails: [EmailRecord] = []
        var lastMicros: Int64 = 0
        for row in rows.prefix(limit) {
            emails.append(try decode(row))
            lastMicros = try row.makeRandomAccess()["created_us"].decode(Int64.self)
        }
        return (emails, rows.count > limit ? emails.last.map { ListCursor(createdMicros: lastMicros, id: $0.id) } : nil)
    }

    /// Queue depth by status and the age of the oldest due queued email, for metrics.
    public static func stats(at now: Date, on client: PostgresClient, logger: Logger) async throws -> (
        byStatus: [EmailStatus: Int], oldestQueuedSeconds: Double
    ) {
        var by: [EmailStatus: Int] = [:]
        for try await (s, n) in try await client.query("SELECT status, count(*)::int8 FROM emails GROUP BY status", logger: logger)
            .decode((String, Int64).self)
        { if let st = EmailStatus(rawValue: s) { by[st] = Int(n) } }
        let oldest = try await client.query("SELECT min(run_at) FROM emails WHERE status = 'queued' AND run_at <= \(now)", logger: logger)
            .collect().first?.decode(Date?.self)
        return (by, oldest.map { max(0, now.timeIntervalSince($0)) } ?? 0)
    }

    /// An event on the email's request (if it has one), at the request's current version.
    static func recordEvent(_ emailID: UUID, _ kind: String, at now: Date, on conn: PostgresConnection, logger: Logger, detail: String? = nil)
        async throws
    {
        try await conn.query(
            """
            INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
            SELECT e.request_id, r.version, \(kind), 'system', NULL, \(now),
                   jsonb_strip_nulls(jsonb_build_object('email_id', e.id, 'email_kind', e.kind, 'recipient', e.recipient,
                                                        'attempt', e.attempts, 'detail', \(detail)::text))
            FROM emails e JOIN requests r ON r.id = e.request_id WHERE e.id = \(emailID)
            """, logger: logger)
    }

    static func decodeAll(_ rows: PostgresRowSequence) async throws -> [EmailRecord] {
        var out: [EmailRecord] = []
        for try await row in rows { out.append(try decode(row)) }
        return out
    }

    static func decode(_ row: PostgresRow) throws -> EmailRecord {
        let r = row.makeRandomAccess()
        return EmailRecord(
            id: try r["id"].decode(UUID.self), requestID: try r["request_id"].decode(UUID?.self), kind: try r["kind"].decode(String.self),
            recipient: try r["recipient"].decode(String.self), subject: try r["subject"].decode(String.self),
            bodyText: try r["body_text"].decode(String.self), bodyHTML: try r["body_html"].decode(String.self),
            templateData: try JSONText.decode(try r["template_data"].decode(String.self)),
            dedupKey: try r["dedup_key"].decode(String?.self), status: EmailStatus(rawValue: try r["status"].decode(String.self)) ?? .queued,
            runAt: try r["run_at"].decode(Date.self), attempts: try r["attempts"].decode(Int.self),
            maxAttempts: try r["max_attempts"].decode(Int.self),
            lastError: try r["last_error"].decode(String?.self), messageID: try r["message_id"].decode(String.self),
            createdAt: try r["created_at"].decode(Date.self), sentAt: try r["sent_at"].decode(Date?.self))
    }
}
