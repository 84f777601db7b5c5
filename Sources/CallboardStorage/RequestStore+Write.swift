import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// What a write of a request carries beside its row, all in the same statement: its events in
/// order, the emails it queues (each with its own `email_queued`/`email_suppressed` event; workers
/// are woken on commit), the page links those emails hold, the reminders it settles (cancelling
/// their queued emails) and the webhook events it queues for every enabled subscription wanting
/// them (with no subscriptions, a lookup of an empty index).
public struct RequestWrite: Sendable {
    public var events: [EventRecord]
    public var emails: [NewEmail]
    public var links: [NewLink]
    public var settling: [ReminderRule]
    public var webhooks: [WebhookEvent]

    public init(
        events: [EventRecord], emails: [NewEmail] = [], links: [NewLink] = [], settling: [ReminderRule] = [], webhooks: [WebhookEvent] = []
    ) {
        self.events = events
        self.emails = emails
        self.links = links
        self.settling = settling
        self.webhooks = webhooks
    }
}

extension RequestStore {
    /// Stores a new request as `r` stands (its `reference` chosen by the caller) with everything of
    /// `write`, in one statement. False, with nothing written, when the reference is taken: the
    /// caller picks another (`ON CONFLICT` instead of an error, so the caller's transaction goes on).
    public static func insert(_ r: RequestRecord, _ write: RequestWrite, at now: Date, on conn: PostgresConnection, logger: Logger)
        async throws -> Bool
    {
        var binds = SQLBinds()
        func bind(_ v: some PostgresNonThrowingEncodable) -> String { binds.add(v) }
        func bind(_ v: (some PostgresNonThrowingEncodable)?) -> String { binds.add(v) }
        let sql = """
            WITH updated AS (
                INSERT INTO requests (id, reference, kind, state, version, department, division, assignee_id, items, missing_items,
                    optional_modules, service_name, notes, sign_off_decision, preview_url, live_url, audit_outcome, info_complete_at,
                    created_at, updated_at, sla_started_at, sla_due_at, sla_at_risk_at, sla_met_at, sla_calendar_version, state_entered_at)
                VALUES (\(bind(r.id)), \(bind(r.reference)), \(bind(r.kind.rawValue)), \(bind(r.state.rawValue)), \(bind(r.version)),
                    \(bind(r.department)), \(bind(r.division)), \(bind(r.assigneeID)), \(bind(r.checklist.storedJSON))::jsonb,
                    \(bind(r.checklist.unsettledRequiredItems(for: r.kind).map(\.rawValue))), \(bind(r.optionalModules.map(\.rawValue))),
                    \(bind(r.checklist.serviceName ?? "")), \(bind(r.notes)), \(bind(r.signOffDecision?.rawValue)), \(bind(r.previewURL)),
                    \(bind(r.liveURL)), \(bind(r.auditOutcome?.rawValue)), \(bind(r.infoCompleteAt)), \(bind(r.createdAt)),
                    \(bind(r.updatedAt)), \(bind(r.sla?.startedAt)), \(bind(r.sla?.dueAt)), \(bind(r.sla?.atRiskAt)), \(bind(r.sla?.metAt)),
                    \(bind(r.sla?.calendarVersion)), \(bind(r.stateEnteredAt)))
                ON CONFLICT (reference) DO NOTHING
                RETURNING id, version
            ), scheduled AS (
                -- The scheduler looks at a new request at once (its first chase is computed then).
                INSERT INTO request_schedule (request_id, next_reminder_at) SELECT id, \(bind(now)) FROM updated
            ), \(dependents(write, at: now, &binds))
            """
        guard let row = try await conn.run(binds.statement(sql), logger: logger).first else { return false }
        return try row.decode((Int64, Int64, Int64).self).0 == 1
    }

    /// Compare-and-set in one statement: writes `r` (whose `version` is already the new one) only if
    /// the stored version is still `r.version - 1`, and with it everything of `write`, and marks the
    /// request for the scheduler to look at again.
    /// Every part hangs off the UPDATE, so when another change got there first nothing at all is
    /// written and the result is false. Being one statement, it is atomic without a transaction.
    public static func update(_ r: RequestRecord, _ write: RequestWrite, at now: Date, on conn: PostgresConnection, logger: Logger)
        async throws -> Bool
    {
        var binds = SQLBinds()
        func bind(_ v: some PostgresNonThrowingEncodable) -> String { binds.add(v) }
        func bind(_ v: (some PostgresNonThrowingEncodable)?) -> String { binds.add(v) }
        let sql = """
            WITH updated AS (
                UPDATE requests SET kind = \(bind(r.kind.rawValue)), state = \(bind(r.state.rawValue)), version = \(bind(r.version)),
                    department = \(bind(r.department)), division = \(bind(r.division)), assignee_id = \(bind(r.assigneeID)),
                    items = \(bind(r.checklist.storedJSON))::jsonb,
                    missing_items = \(bind(r.checklist.unsettledRequiredItems(for: r.kind).map(\.rawValue))),
                    optional_modules = \(bind(r.optionalModules.map(\.rawValue))), service_name = \(bind(r.checklist.serviceName ?? "")),
                    notes = \(bind(r.notes)), sign_off_decision = \(bind(r.signOffDecision?.rawValue)), preview_url = \(bind(r.previewURL)),
                    live_url = \(bind(r.liveURL)), audit_outcome = \(bind(r.auditOutcome?.rawValue)),
                    info_complete_at = \(bind(r.infoCompleteAt)), updated_at = \(bind(r.updatedAt)),
                    sla_started_at = \(bind(r.sla?.startedAt)), sla_due_at = \(bind(r.sla?.dueAt)), sla_at_risk_at = \(bind(r.sla?.atRiskAt)),
                    sla_met_at = \(bind(r.sla?.metAt)), sla_calendar_version = \(bind(r.sla?.calendarVersion)),
                    state_entered_at = \(bind(r.stateEnteredAt))
                WHERE id = \(bind(r.id)) AND version = \(bind(r.version - 1))
                RETURNING id, version
            ), scheduled AS (
                -- The scheduler looks again at once (an upsert: a request seeded by SQL alone may have no row).
                INSERT INTO request_schedule (request_id, next_reminder_at) SELECT id, \(bind(now)) FROM updated
                ON CONFLICT (request_id) DO UPDATE SET next_reminder_at = excluded.next_reminder_at
            ), \(dependents(write, at: now, &binds))
            """
        guard let row = try await conn.run(binds.statement(sql), logger: logger).first else { return false }
        return try row.decode((Int64, Int64, Int64).self).0 == 1
    }

    /// The CTEs that hang off the request's own CTE `updated` (its id and new version), then the
    /// statement's one row: (requests written, emails woken, webhook deliveries woken). The insert
    /// and the update share them, so a new request's history is written as a change's is.
    private static func dependents(_ w: RequestWrite, at now: Date, _ binds: inout SQLBinds) -> String {
        func bind(_ v: some PostgresNonThrowingEncodable) -> String { binds.add(v) }
        func bind(_ v: (some PostgresNonThrowingEncodable)?) -> String { binds.add(v) }
        // In the order given (a created request: `created`, then the transition that completed it).
        let events = w.events.map { e in
            """
            SELECT id, \(bind(e.version))::int, \(bind(e.kind))::text, \(bind(e.actorKind.rawValue))::text, \(bind(e.actorID))::text,
                   \(bind(e.occurredAt))::timestamptz, \(bind(JSONText.encode(e.data)))::jsonb
            FROM updated
            """
        }.joined(separator: "\nUNION ALL ")
        var sql = """
            event AS (
                INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
                \(events)
                RETURNING id
            )
            """
        // Joined by what follows, so the events' rows (and ids) come first in the history.
        let afterEvents = "(SELECT max(id) FROM event) AS after_event"
        if !w.settling.isEmpty {
            sql +=
                ", "
                + ReminderStore.settleCTEs(
                    where: "request_id = (SELECT id FROM updated) AND rule = ANY(\(bind(w.settling.map(\.rawValue))))",
                    version: "(SELECT version FROM updated)", now: bind(now), after: afterEvents)
        }
        if !w.links.isEmpty {
            let rows = w.links.map { l in
                "(\(bind(l.record.id))::uuid, \(bind(l.record.purpose.rawValue))::text, "
                    + "\(bind(l.record.email))::text, \(bind(l.record.requestVersion))::int, \(bind(l.record.csrf))::text, "
                    + "\(bind(l.record.createdAt))::timestamptz, \(bind(l.record.expiresAt))::timestamptz)"
            }.joined(separator: ", ")
            sql += """
                , new_links AS (
                    INSERT INTO links (id, purpose, request_id, email, request_version, csrf, created_at, expires_at)
                    SELECT v.id, v.purpose, updated.id, v.email, v.request_version, v.csrf, v.created_at, v.expires_at
                    FROM (VALUES \(rows)) AS v(id, purpose, email, request_version, csrf, created_at, expires_at) CROSS JOIN updated
                )
                """
        }
        var hooks = "0::int8"
        if !w.webhooks.isEmpty {
            sql += ", hooks AS (\(WebhookStore.insertBound(w.webhooks, from: "updated", &binds)))"
            hooks = "(SELECT count(pg_notify(\(bind(WebhookStore.channel)), '')) FROM hooks)"
        }
        guard !w.emails.isEmpty else { return sql + " SELECT (SELECT count(*) FROM updated), 0::int8, \(hooks)" }
        let source = EmailStore.rowSource(w.emails, &binds)
        return sql + """
            , queued AS (
                INSERT INTO emails (id, request_id, kind, recipient, subject, body_text, body_html, template_data, dedup_key, status,
                                    run_at, max_attempts, message_id, created_at, updated_at)
                SELECT v.id, updated.id, v.kind, v.recipient, v.subject, v.body_text, v.body_html, v.template_data, v.dedup_key,
                       CASE WHEN EXISTS (SELECT 1 FROM email_suppressions WHERE address = lower(v.recipient)) THEN 'suppressed' ELSE 'queued' END,
                       v.run_at, v.max_attempts, v.message_id, \(bind(now)), \(bind(now))
                FROM \(source) AS v CROSS JOIN updated
                ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND status IN ('queued', 'sending', 'sent') DO NOTHING
                RETURNING id, request_id, kind, recipient, status
            ), email_events AS (
                INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
                SELECT queued.request_id, updated.version, 'email_' || queued.status, 'system', NULL, \(bind(now)),
                       jsonb_build_object('email_id', queued.id, 'email_kind', queued.kind, 'recipient', queued.recipient, 'attempt', 0)
                FROM queued CROSS JOIN updated CROSS JOIN \(afterEvents)
                ORDER BY queued.id
            )
            SELECT (SELECT count(*) FROM updated), (SELECT count(pg_notify(\(bind(EmailStore.channel)), '')) FROM queued WHERE status = 'queued'),
                   \(hooks)
            """
    }
}
