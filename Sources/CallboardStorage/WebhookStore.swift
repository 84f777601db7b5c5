import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// A webhook subscription as stored, without its secret.
public struct WebhookSubscription: Sendable, Equatable {
    public var id: UUID
    public var url: String
    public var description: String
    public var eventTypes: [WebhookEventType]
    public var enabled: Bool
    public var disabledReason: String?
    public var createdBy: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, url: String, description: String, eventTypes: [WebhookEventType], enabled: Bool, disabledReason: String? = nil,
        createdBy: String?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.url = url
        self.description = description
        self.eventTypes = eventTypes
        self.enabled = enabled
        self.disabledReason = disabledReason
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A signing secret as the database holds it: sealed, with the id of the key that sealed it.
public struct SealedSecret: Sendable, Equatable {
    public var ciphertext: [UInt8]
    public var keyID: String
    public init(ciphertext: [UInt8], keyID: String) {
        self.ciphertext = ciphertext
        self.keyID = keyID
    }
}

/// A change that may be delivered: its type, its identifiers-and-states data and when it happened.
public struct WebhookEvent: Sendable, Equatable {
    public var type: WebhookEventType
    public var data: JSONValue
    public var at: Date
    public init(type: WebhookEventType, data: JSONValue, at: Date) {
        self.type = type
        self.data = data
        self.at = at
    }

    /// The body sent (the same bytes on every attempt): `{"data", "timestamp", "type"}`, keys sorted.
    public var body: [UInt8] {
        JSONValue.object(["type": .string(type.rawValue), "timestamp": .string(Timestamp.rfc3339(at)), "data": data]).serialized()
    }
}

public enum WebhookDeliveryStatus: String, CaseIterable, Sendable {
    /// `failed`: the receiver answered 410 Gone (its subscription was disabled).
    case queued, sending, delivered, failed, dead
}

public struct WebhookDelivery: Sendable, Equatable {
    public var id: UUID
    public var subscriptionID: UUID
    public var event: WebhookEvent
    public var status: WebhookDeliveryStatus
    public var runAt: Date
    public var attempts: Int
    public var maxAttempts: Int
    public var lastError: String?
    public var lastStatus: Int?
    public var createdAt: Date
    public var deliveredAt: Date?
}

public struct WebhookAttempt: Sendable, Equatable {
    public var attempt: Int
    public var worker: String
    public var startedAt: Date
    public var finishedAt: Date
    public var outcome: String
    public var statusCode: Int?
    public var error: String?
    public var durationMS: Int?
}

/// A delivery claimed by a worker, with what it needs to send it.
public struct ClaimedWebhook: Sendable {
    public var delivery: WebhookDelivery
    public var url: String
    public var secret: SealedSecret
}

/// Subscriptions and the delivery outbox. Deliveries are queued inside the transaction of the
/// change that causes them; every change of a delivery's status is fenced by its attempt number.
public enum WebhookStore {
    public static let channel = "callboard_webhook"
    static let subscriptionColumns =
        "id, url, description, event_types, enabled, disabled_reason, created_by, created_at, updated_at"
    static let deliveryColumns = """
        id, subscription_id, event_type, data::text AS data, occurred_at, status, run_at, attempts, max_attempts, last_error, last_status,
        created_at, delivered_at, (extract(epoch FROM created_at) * 1000000)::int8 AS created_us
        """

    // MARK: - Queueing

    /// The INSERT that queues one delivery per enabled subscription wanting `type`, one per row of
    /// `from` (a CTE or table name) where `condition` holds; `data` and `at` are SQL expressions
    /// over that row. For statements that queue from their own CTEs (the email outbox's `dead`).
    static func insertFrom(type: WebhookEventType, data: String, at: String, from: String, condition: String = "true") -> String {
        """
        INSERT INTO webhook_deliveries (id, subscription_id, event_type, data, occurred_at, run_at, created_at, updated_at)
        SELECT gen_random_uuid(), s.id, '\(type.rawValue)', \(data), \(at), \(at), \(at), \(at)
        FROM \(from) JOIN webhook_subscriptions s ON s.enabled AND s.event_types @> ARRAY['\(type.rawValue)']::text[]
        WHERE \(condition)
        RETURNING 1
        """
    }

    /// The same with the events bound: `from` is a CTE of one row (`updated`), or nothing.
    static func insertBound(_ events: [WebhookEvent], from: String?, _ binds: inout SQLBinds) -> String {
        let rows = events.map { e in
            "(\(binds.add(e.type.rawValue))::text, \(binds.add(JSONText.encode(e.data)))::jsonb, \(binds.add(e.at))::timestamptz)"
        }
        return """
            INSERT INTO webhook_deliveries (id, subscription_id, event_type, data, occurred_at, run_at, created_at, updated_at)
            SELECT gen_random_uuid(), s.id, v.type, v.data, v.at, v.at, v.at, v.at
            FROM (VALUES \(rows.joined(separator: ", "))) AS v(type, data, at)
            JOIN webhook_subscriptions s ON s.enabled AND s.event_types @> ARRAY[v.type] \(from.map { "CROSS JOIN \($0) " } ?? "")
            RETURNING 1
            """
    }

    /// Queues `e` for every enabled subscription that wants it, in the caller's transaction (one
    /// statement, which finds nothing to do when nobody subscribed); workers are woken on commit.
    @discardableResult
    public static func enqueue(_ e: WebhookEvent, on conn: PostgresConnection, logger: Logger) async throws -> Int {
        var binds = SQLBinds()
        let insert = insertBound([e], from: nil, &binds)
        let sql = "WITH ins AS (\(insert)) SELECT count(pg_notify(\(binds.add(channel)), ''))::int8 FROM ins"
        guard let row = try await conn.run(binds.statement(sql), logger: logger).first else { return 0 }
        return Int(try row.decode(Int64.self))
    }

    // MARK: - Subscriptions

    public static func insert(_ s: WebhookSubscription, secret: SealedSecret, on client: PostgresClient, logger: Logger) async throws {
        try await client.query(
            """
            INSERT INTO webhook_subscriptions (id, url, description, event_types, secret_ciphertext, secret_key_id, enabled, created_by,
                                               created_at, updated_at)
            VALUES (\(s.id), \(s.url), \(s.description), \(s.eventTypes.map(\.rawValue)), \(ByteBuffer(bytes: secret.ciphertext)), \(secret.keyID), \(s.enabled),
                    \(s.createdBy), \(s.createdAt), \(s.updatedAt))
            """, logger: logger)
    }

    public static func list(on client: PostgresClient, logger: Logger) async throws -> [WebhookSubscription] {
        try await decodeSubscriptions(
            client.query("SELECT \(unescaped: subscriptionColumns) FROM webhook_subscriptions ORDER BY created_at, id", logger: logger))
    }

    public static func fetch(_ id: UUID, on client: PostgresClient, logger: Logger) async throws -> WebhookSubscription? {
        try await decodeSubscriptions(
            client.query("SELECT \(unescaped: subscriptionColumns) FROM webhook_subscriptions WHERE id = \(id)", logger: logger)
        ).first
    }

    /// Changes what is given (nil: unchanged). Enabling clears the reason it was disabled.
    public static func update(
        _ id: UUID, url: String?, description: String?, eventTypes: [WebhookEventType]?, enabled: Bool?, disabledReason: String?,
        at now: Date, on client: PostgresClient, logger: Logger
    ) async throws -> WebhookSubscription? {
        try await decodeSubscriptions(
            client.query(
                """
                UPDATE webhook_subscriptions SET url = coalesce(\(url), url), description = coalesce(\(description), description),
                    event_types = coalesce(\(eventTypes?.map(\.rawValue)), event_types), enabled = coalesce(\(enabled), enabled),
                    disabled_reason = CASE WHEN \(enabled)::bool IS NULL THEN disabled_reason WHEN \(enabled)::bool THEN NULL
                                           ELSE \(disabledReason)::text END,
                    updated_at = \(now)
                WHERE id = \(id)
                RETURNING \(unescaped: subscriptionColumns)
                """, logger: logger)
        ).first
    }

    /// Deletes a subscription with its deliveries and their attempts.
    public static func delete(_ id: UUID, on client: PostgresClient, logger: Logger) async throws -> Bool {
        try await client.query("DELETE FROM webhook_subscriptions WHERE id = \(id) RETURNING id", logger: logger).collect().count == 1
    }

    /// Every sealed secret, locked for the rest of the transaction (key rotation).
    public static func sealedSecrets(on conn: PostgresConnection, logger: Logger) async throws -> [(UUID, SealedSecret)] {
        var out: [(UUID, SealedSecret)] = []
        for try await (id, c, k) in try await conn.query(
            "SELECT id, secret_ciphertext, secret_key_id FROM webhook_subscriptions ORDER BY id FOR UPDATE", logger: logger
        ).decode((UUID, ByteBuffer, String).self) { out.append((id, SealedSecret(ciphertext: Array(buffer: c), keyID: k))) }
        return out
    }

    public static func reseal(_ id: UUID, _ s: SealedSecret, on conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            "UPDATE webhook_subscriptions SET secret_ciphertext = \(ByteBuffer(bytes: s.ciphertext)), secret_key_id = \(s.keyID) WHERE id = \(id)",
            logger: logger)
    }

    // MARK: - Deliveries for staff

    /// A subscription's deliveries, newest first, paginated by (created_at, id).
    public static func deliveries(_ subscriptionID: UUID, after cursor: ListCursor?, limit: Int, on client: PostgresClient, logger: Logger)
        async throws -> (deliveries: [WebhookDelivery], next: ListCursor?)
    {
        var binds = SQLBinds()
        var sql = "SELECT \(deliveryColumns) FROM webhook_deliveries WHERE subscription_id = \(binds.add(subscriptionID))"
        if let c = cursor {
            sql +=
                " AND (created_at, id) < ('epoch'::timestamptz + \(binds.add(c.createdMicros)) * interval '1 microsecond', \(binds.add(c.id)))"
        }
        sql += " ORDER BY created_at DESC, id DESC LIMIT \(binds.add(limit + 1))"
        let rows = try await client.query(binds.query(sql), logger: logger).collect()
        var out: [WebhookDelivery] = []
        var lastMicros: Int64 = 0
        for row in rows.prefix(limit) {
            out.append(try decodeDelivery(row))
            lastMicros = try row.makeRandomAccess()["created_us"].decode(Int64.self)
        }
        return (out, rows.count > limit ? out.last.map { ListCursor(createdMicros: lastMicros, id: $0.id) } : nil)
    }

    public static func delivery(_ id: UUID, subscriptionID: UUID, on client: PostgresClient, logger: Logger) async throws -> WebhookDelivery? {
        let rows = try await client.query(
            "SELECT \(unescaped: deliveryColumns) FROM webhook_deliveries WHERE id = \(id) AND subscription_id = \(subscriptionID)",
            logger: logger
        ).collect()
        return try rows.first.map(decodeDelivery)
    }

    /// The attempts of these deliveries, by delivery, oldest first.
    public static func attempts(_ ids: [UUID], on client: PostgresClient, logger: Logger) async throws -> [UUID: [WebhookAttempt]] {
        guard !ids.isEmpty else { return [:] }
        var out: [UUID: [WebhookAttempt]] = [:]
        for try await (id, n, w, s, f, o, code, e, ms) in try await client.query(
            """
            SELECT delivery_id, attempt, worker, started_at, finished_at, outcome, status_code, error, duration_ms
            FROM webhook_attempts WHERE delivery_id = ANY(\(ids)) ORDER BY delivery_id, attempt
            """, logger: logger
        ).decode((UUID, Int, String, Date, Date, String, Int?, String?, Int?).self) {
            out[id, default: []].append(
                WebhookAttempt(attempt: n, worker: w, startedAt: s, finishedAt: f, outcome: o, statusCode: code, error: e, durationMS: ms))
        }
        return out
    }

    /// Queues a finished delivery again (same id, so the same `webhook-id`) with a fresh set of
    /// attempts. Nil when it does not exist; `changed` false when it is still queued or sending.
    public static func replay(_ id: UUID, subscriptionID: UUID, attempts more: Int, at now: Date, on client: PostgresClient, logger: Logger)
        async throws -> (WebhookDelivery, changed: Bool)?
    {
        let changed =
            try await client.query(
                """
                WITH r AS (
                    UPDATE webhook_deliveries SET status = 'queued', run_at = \(now), max_attempts = attempts + \(more), updated_at = \(now)
                    WHERE id = \(id) AND subscription_id = \(subscriptionID) AND status IN ('delivered', 'failed', 'dead')
                    RETURNING id
                )
                SELECT count(pg_notify(\(channel), '')) FROM r
                """, logger: logger
            ).collect().first?.decode(Int64.self) == 1
        return try await delivery(id, subscriptionID: subscriptionID, on: client, logger: logger).map { ($0, changed) }
    }

    // MARK: - The worker

    /// Claims up to `limit` due deliveries of enabled subscriptions: `sending`, attempt + 1, a lease.
    public static func claim(limit: Int, worker: String, leaseSeconds: Double, at now: Date, on client: PostgresClient, logger: Logger)
        async throws -> [ClaimedWebhook]
    {
        let rows = try await client.query(
            """
            WITH next AS (
                SELECT d.id FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
                WHERE d.status = 'queued' AND d.run_at <= \(now) AND s.enabled
                ORDER BY d.run_at LIMIT \(limit) FOR UPDATE OF d SKIP LOCKED
            ), claimed AS (
                UPDATE webhook_deliveries d SET status = 'sending', attempts = d.attempts + 1,
                       lease_until = \(now.addingTimeInterval(leaseSeconds)), leased_by = \(worker), claimed_at = \(now), updated_at = \(now)
                FROM next WHERE d.id = next.id
                RETURNING d.*
            )
            SELECT c.id, c.subscription_id, c.event_type, c.data::text AS data, c.occurred_at, c.status, c.run_at, c.attempts, c.max_attempts,
                   c.last_error, c.last_status, c.created_at, c.delivered_at, s.url, s.secret_ciphertext, s.secret_key_id
            FROM claimed c JOIN webhook_subscriptions s ON s.id = c.subscription_id ORDER BY c.run_at
            """, logger: logger
        ).collect()
        return try rows.map { row in
            let r = row.makeRandomAccess()
            return ClaimedWebhook(
                delivery: try decodeDelivery(row), url: try r["url"].decode(String.self),
                secret: SealedSecret(
                    ciphertext: Array(buffer: try r["secret_ciphertext"].decode(ByteBuffer.self)), keyID: try r["secret_key_id"].decode(String.self)))
        }
    }

    /// Returns deliveries whose worker vanished (lease expired) to the queue at once, or marks them
    /// `dead` when that was their last attempt; each such attempt is recorded as `lease_expired`.
    @discardableResult
    public static func reclaimExpired(at now: Date, on client: PostgresClient, logger: Logger) async throws -> Int {
        let rows = try await client.query(
            """
            WITH expired AS (
                SELECT id, attempts, leased_by, claimed_at FROM webhook_deliveries WHERE status = 'sending' AND lease_until < \(now)
                LIMIT 1000 FOR UPDATE SKIP LOCKED
            ), done AS (
                INSERT INTO webhook_attempts (delivery_id, attempt, worker, started_at, finished_at, outcome, error)
                SELECT id, attempts, coalesce(leased_by, ''), coalesce(claimed_at, \(now)), \(now), 'lease_expired',
                       'worker stopped before finishing; lease expired'
                FROM expired
                ON CONFLICT DO NOTHING
            ), returned AS (
                UPDATE webhook_deliveries d SET status = CASE WHEN d.attempts >= d.max_attempts THEN 'dead' ELSE 'queued' END,
                       run_at = \(now), lease_until = NULL, leased_by = NULL, updated_at = \(now),
                       last_error = 'worker stopped before finishing; lease expired', last_status = NULL
                FROM expired WHERE d.id = expired.id
                RETURNING d.id
            )
            SELECT id FROM returned
            """, logger: logger
        ).collect()
        return rows.count
    }

    public enum Outcome: Sendable, Equatable {
        case delivered(status: Int)
        case retry(at: Date, status: Int?, error: String)
        /// 410 Gone: the delivery is `failed` and its subscription disabled.
        case gone(status: Int)
        case dead(status: Int?, error: String)
    }

    /// Records attempt `attempt`'s outcome (and the attempt itself); false when a newer attempt
    /// owns the delivery (its lease expired and another worker claimed it).
    @discardableResult
    public static func finish(
        _ id: UUID, attempt: Int, outcome: Outcome, startedAt: Date, durationMS: Int, at now: Date, on client: PostgresClient, logger: Logger
    ) async throws -> Bool {
        let (status, label, code, error, runAt): (String, String, Int?, String?, Date)
        switch outcome {
        case .delivered(let c): (status, label, code, error, runAt) = ("delivered", "delivered", c, nil, now)
        case .retry(let at, let c, let e): (status, label, code, error, runAt) = ("queued", "retry", c, e, at)
        case .gone(let c): (status, label, code, error, runAt) = ("failed", "gone", c, "the receiver answered 410 Gone", now)
        case .dead(let c, let e): (status, label, code, error, runAt) = ("dead", "dead", c, e, now)
        }
        let disable = status == "failed"
        let rows = try await client.query(
            """
            WITH done AS (
                UPDATE webhook_deliveries d SET status = \(status), run_at = \(runAt), last_error = \(error), last_status = \(code),
                       lease_until = NULL, updated_at = \(now), delivered_at = CASE WHEN \(status) = 'delivered' THEN \(now) ELSE d.delivered_at END
                WHERE d.id = \(id) AND d.attempts = \(attempt) AND d.status = 'sending'
                RETURNING d.id, d.attempts, d.leased_by, d.subscription_id
            ), attempt AS (
                INSERT INTO webhook_attempts (delivery_id, attempt, worker, started_at, finished_at, outcome, status_code, error, duration_ms)
                SELECT id, attempts, coalesce(leased_by, ''), \(startedAt), \(now), \(label), \(code), \(error), \(durationMS) FROM done
                ON CONFLICT DO NOTHING
            ), gone AS (
                UPDATE webhook_subscriptions s SET enabled = false, updated_at = \(now),
                       disabled_reason = 'the receiver answered 410 Gone to delivery ' || done.id::text
                FROM done WHERE s.id = done.subscription_id AND \(disable)
            )
            SELECT id FROM done
            """, logger: logger
        ).collect()
        return rows.count == 1
    }

    /// Queue depth by status, for metrics and the page.
    public static func counts(_ subscriptionID: UUID, on client: PostgresClient, logger: Logger) async throws -> [WebhookDeliveryStatus: Int] {
        var out: [WebhookDeliveryStatus: Int] = [:]
        for try await (s, n) in try await client.query(
            "SELECT status, count(*)::int8 FROM webhook_deliveries WHERE subscription_id = \(subscriptionID) GROUP BY status", logger: logger
        ).decode((String, Int64).self) { if let st = WebhookDeliveryStatus(rawValue: s) { out[st] = Int(n) } }
        return out
    }

    // MARK: - Decoding

    static func decodeSubscriptions(_ rows: PostgresRowSequence) async throws -> [WebhookSubscription] {
        var out: [WebhookSubscription] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            out.append(
                WebhookSubscription(
                    id: try r["id"].decode(UUID.self), url: try r["url"].decode(String.self), description: try r["description"].decode(String.self),
                    eventTypes: try r["event_types"].decode([String].self).compactMap(WebhookEventType.init(rawValue:)),
                    enabled: try r["enabled"].decode(Bool.self), disabledReason: try r["disabled_reason"].decode(String?.self),
                    createdBy: try r["created_by"].decode(String?.self), createdAt: try r["created_at"].decode(Date.self),
                    updatedAt: try r["updated_at"].decode(Date.self)))
        }
        return out
    }

    static func decodeDelivery(_ row: PostgresRow) throws -> WebhookDelivery {
        let r = row.makeRandomAccess()
        let type = try r["event_type"].decode(String.self)
        return WebhookDelivery(
            id: try r["id"].decode(UUID.self), subscriptionID: try r["subscription_id"].decode(UUID.self),
            event: WebhookEvent(
                type: WebhookEventType(rawValue: type) ?? .requestUpdated, data: try JSONText.decode(try r["data"].decode(String.self)),
                at: try r["occurred_at"].decode(Date.self)),
            status: WebhookDeliveryStatus(rawValue: try r["status"].decode(String.self)) ?? .queued, runAt: try r["run_at"].decode(Date.self),
            attempts: try r["attempts"].decode(Int.self), maxAttempts: try r["max_attempts"].decode(Int.self),
            lastError: try r["last_error"].decode(String?.self), lastStatus: try r["last_status"].decode(Int?.self),
            createdAt: try r["created_at"].decode(Date.self), deliveredAt: try r["delivered_at"].decode(Date?.self))
    }
}
