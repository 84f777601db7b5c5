import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import PostgresNIO
import Testing

/// The retention job: each kind goes exactly at its boundary (a row one second inside it stays), in
/// bounded batches; the dry run writes nothing; requests and their history are never touched.
@Suite struct RetentionTests {
    static let logger = TestDatabase.logger
    static let day: TimeInterval = 86_400

    static func job(_ app: TestApp, batch: Int = 1000) -> RetentionService {
        var settings = RetentionSettings()
        settings.batchSize = batch
        return RetentionService(db: app.db, time: app.clock, logger: logger, settings: settings)
    }

    static func int(_ db: PostgresClient, _ query: PostgresQuery) async throws -> Int {
        for try await n in try await db.query(query, logger: logger).decode(Int64.self) { return Int(n) }
        return -1
    }

    /// Every row of the tables the job may change, as text: equal before and after means nothing was written.
    static func snapshot(_ db: PostgresClient) async throws -> [String] {
        var out: [String] = []
        for table in [
            "links", "link_tokens", "staff_sign_in_links", "staff_sessions", "idempotency_keys", "emails", "email_attempts", "rate_limits",
            "rate_limit_slots", "requests", "request_events",
        ] {
            let sql = "SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM \(table) t"
            for try await text in try await db.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String.self) {
                out.append("\(table):\n\(text)")
            }
        }
        return out
    }

    /// Rows on both sides of every boundary (default settings), at the test clock's now. Returns the request's id.
    static func insertBoundaryRows(_ app: TestApp) async throws -> UUID {
        let db = app.db
        let now = app.clock.now()
        let created = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
        let request = UUID(uuidString: created.json["id"]!.stringValue!)!
        let staff = try await app.staff.createStaff(email: "triager@callboard.test", name: "", role: .triager).id

        // Page links: expired 30 days ago exactly (goes, with its 2 tokens), and 1 s later (stays, with its token).
        let (goneLink, keptLink) = (UUID(), UUID())
        for (id, expires) in [(goneLink, now - 30 * day), (keptLink, now - 30 * day + 1)] {
            try await db.query(
                """
                INSERT INTO links (id, purpose, request_id, email, request_version, csrf, created_at, expires_at)
                VALUES (\(id), 'contact', \(request), 'ada@dvla.gov.uk', 1, 'csrf', \(expires - 30 * day), \(expires))
                """, logger: logger)
        }
        // Sign-in links: used a second ago (goes), unused and expiring now (goes), unused expiring in 1 s (stays).
        let (usedSignIn, expiredSignIn, liveSignIn) = (UUID(), UUID(), UUID())
        for (id, expires, used) in [
            (usedSignIn, now + 840, now - 1), (expiredSignIn, now, nil), (liveSignIn, now + 1, nil),
        ] as [(UUID, Date, Date?)] {
            try await db.query(
                """
                INSERT INTO staff_sign_in_links (id, staff_id, created_at, expires_at, used_at)
                VALUES (\(id), \(staff), \(expires - 900), \(expires), \(used))
                """, logger: logger)
        }
        for link in [goneLink, goneLink, keptLink, usedSignIn, expiredSignIn, liveSignIn] {
            try await db.query(
                """
                INSERT INTO link_tokens (token_hash, link_id, created_at)
                VALUES (sha256(convert_to(gen_random_uuid()::text, 'UTF8')), \(link), \(now - 40 * day))
                """, logger: logger)
        }
        // Sessions: signed out of 30 days ago (goes) and 1 s later (stays); expired 30 days ago (goes) and 1 s later (stays).
        for (n, ended, expires) in [
            (1, now - 30 * day, now - 29 * day), (2, now - 30 * day + 1, now - 29 * day),
            (3, nil, now - 30 * day), (4, nil, now - 30 * day + 1),
        ] as [(Int, Date?, Date)] {
            try await db.query(
                """
                INSERT INTO staff_sessions (token_hash, staff_id, csrf, created_at, expires_at, ended_at)
                VALUES (sha256(convert_to(\("session-\(n)"), 'UTF8')), \(staff), 'csrf', \(expires - 43_200), \(expires), \(ended))
                """, logger: logger)
        }
        // Idempotency keys: made 24 hours ago (goes) and 1 s later (stays).
        for (key, at) in [("gone", now - 86_400), ("kept", now - 86_399)] {
            try await db.query(
                """
                INSERT INTO idempotency_keys (principal, key, fingerprint, status, headers, body, created_at)
                VALUES ('staff', \(key), '\\x00', 201, '{}', '\\x7b7d', \(at))
                """, logger: logger)
        }
        // Emails: sent 90 days ago (emptied), 1 s later (kept), dead long ago (kept: not sent), emptied already (not again).
        for (id, status, sent, purged) in [
            (Self.sentLongAgo, "sent", now - 90 * day, nil), (Self.sentRecently, "sent", now - 90 * day + 1, nil),
            (UUID(), "dead", nil, nil), (UUID(), "sent", now - 400 * day, now - 300 * day),
        ] as [(UUID, String, Date?, Date?)] {
            try await db.query(
                """
                INSERT INTO emails (id, request_id, kind, recipient, subject, body_text, body_html, template_data, status, run_at,
                                    attempts, message_id, created_at, updated_at, sent_at, body_purged_at)
                VALUES (\(id), \(request), 'information_request', 'ada@dvla.gov.uk', 'Your dashboard request', \(purged == nil ? "Dear Ada" : ""),
                        \(purged == nil ? "<p>Dear Ada</p>" : ""), \(purged == nil ? #"{"name": "Ada"}"# : "{}")::jsonb, \(status), \(now - 500 * day), 1, \(id.uuidString + "@callboard.local"),
                        \(now - 500 * day), \(sent ?? now - 400 * day), \(sent), \(purged))
                """, logger: logger)
            try await db.query(
                """
                INSERT INTO email_attempts (email_id, attempt, worker, started_at, finished_at, outcome)
                VALUES (\(id), 1, 'w1', \(now - 500 * day), \(now - 500 * day), 'sent')
                """, logger: logger)
        }
        // Rate-limit windows: ended now (goes) and ending in 1 s (stays), in both tables.
        for (n, end) in [(0, now), (1, now + 1)] {
            try await db.query(
                """
                INSERT INTO rate_limits (bucket, key, window_start, window_end, hits) VALUES ('link_refresh', \(UUID()), \(end - 3600), \(end), 2)
                """, logger: logger)
            try await db.query(
                """
                INSERT INTO rate_limit_slots (bucket, slot, window_start, window_end, hits) VALUES ('staff_sign_in', \(n), \(end - 900), \(end), 1)
                """, logger: logger)
        }
        return request
    }

    static let sentLongAgo = UUID(uuidString: "00000000-0000-4000-8000-000000000001")!
    static let sentRecently = UUID(uuidString: "00000000-0000-4000-8000-000000000002")!

    static let expected = RetentionReport(
        counts: [.pageLinks: 1, .signInLinks: 2, .staffSessions: 2, .idempotencyKeys: 1, .emailBodies: 1, .rateLimits: 2, .applications: 0],
        linkTokens: 4)
    static let nothing = RetentionReport(
        counts: [.pageLinks: 0, .signInLinks: 0, .staffSessions: 0, .idempotencyKeys: 0, .emailBodies: 0, .rateLimits: 0, .applications: 0],
        linkTokens: 0)

    @Test func eachKindGoesExactlyAtItsBoundary() async throws {
        try await TestApp.run { app in
            let request = try await Self.insertBoundaryRows(app)
            let db = app.db
            let events = try await app.count("request_events")
            let job = Self.job(app)
            #expect(try await job.preview() == Self.expected)
            #expect(try await job.purge() == Self.expected)
            #expect(try await job.preview() == Self.nothing)
            #expect(try await job.purge() == Self.nothing)

            // What stays: the row one second inside each boundary, and links made with the request.
            #expect(try await Self.int(db, "SELECT count(*)::int8 FROM links WHERE expires_at <= \(app.clock.now() - 29 * Self.day)") == 1)
            #expect(try await app.count("link_tokens") == 2)
            #expect(try await app.count("staff_sign_in_links") == 1)
            #expect(try await Self.int(db, "SELECT count(*)::int8 FROM staff_sign_in_links WHERE expires_at = \(app.clock.now() + 1)") == 1)
            #expect(try await app.count("staff_sessions") == 2)
            #expect(try await Self.int(db, "SELECT count(*)::int8 FROM idempotency_keys WHERE key = 'kept'") == 1)
            #expect(try await app.count("idempotency_keys") == 1)
            #expect(try await app.count("rate_limits") == 1)
            #expect(try await app.count("rate_limit_slots") == 1)

            // The old email keeps its metadata and attempts; only its body and template data are gone.
            let rows = try await db.query(
                """
                SELECT body_text, body_html, template_data::text, body_purged_at, subject, recipient, status, sent_at
                FROM emails WHERE id = \(Self.sentLongAgo)
                """, logger: Self.logger
            ).collect()
            let (text, html, data, purgedAt, subject, recipient, status, sentAt) = try rows[0].decode(
                (String, String, String, Date?, String, String, String, Date?).self)
            #expect(text == "" && html == "" && data == "{}")
            #expect(purgedAt == app.clock.now())
            #expect(subject == "Your dashboard request" && recipient == "ada@dvla.gov.uk" && status == "sent")
            #expect(sentAt == app.clock.now() - 90 * Self.day)
            #expect(try await Self.int(db, "SELECT count(*)::int8 FROM email_attempts WHERE email_id = \(Self.sentLongAgo)") == 1)
            #expect(try await Self.int(db, "SELECT count(*)::int8 FROM emails WHERE body_text = 'Dear Ada'") == 2)
            #expect(try await Self.int(db, "SELECT count(*)::int8 FROM emails WHERE id = \(Self.sentRecently) AND body_purged_at IS NULL") == 1)

            // Requests and their history are kept for good.
            #expect(try await app.count("request_events") == events)
            #expect(try await Self.int(db, "SELECT count(*)::int8 FROM requests WHERE id = \(request)") == 1)
        }
    }

    @Test func theDryRunWritesNothing() async throws {
        try await TestApp.run { app in
            _ = try await Self.insertBoundaryRows(app)
            let before = try await Self.snapshot(app.db)
            #expect(try await Self.job(app).preview() == Self.expected)
            #expect(try await Self.job(app).preview() == Self.expected)
            #expect(try await Self.snapshot(app.db) == before)
            #expect(
                Self.expected.lines == [
                    "page_links: 1", "sign_in_links: 2", "link_tokens: 4", "staff_sessions: 2", "idempotency_keys: 1", "email_bodies: 1",
                    "rate_limits: 2", "applications: 0",
                ])
        }
    }

    @Test func aRunWorksInBoundedBatchesUntilNothingIsLeft() async throws {
        try await TestApp.run { app in
            let old = app.clock.now() - 2 * Self.day
            for n in 0..<5 {
                try await app.db.query(
                    "INSERT INTO idempotency_keys (principal, key, fingerprint, created_at) VALUES ('staff', \("k\(n)"), '\\x00', \(old))",
                    logger: Self.logger)
            }
            let cutoffs = RetentionSettings().cutoffs(at: app.clock.now())
            // One batch takes at most its limit.
            let one = try await RetentionStore.purgeBatch(.idempotencyKeys, cutoffs, limit: 2, on: app.db, logger: Self.logger)
            #expect(one == RetentionStore.Batch(rows: 2))
            #expect(try await app.count("idempotency_keys") == 3)
            // A run goes on until a short batch: 2 + 1.
            #expect(try await Self.job(app, batch: 2).purge()[.idempotencyKeys] == 3)
            #expect(try await app.count("idempotency_keys") == 0)
        }
    }

    @Test func theSettingsSetTheCutoffs() throws {
        let settings = try Settings(
            environment: [
                "DATABASE_URL": "postgres://callboard@127.0.0.1:5432/callboard", "CALLBOARD_LINK_RETENTION_DAYS": "7",
                "CALLBOARD_SESSION_RETENTION_DAYS": "1", "CALLBOARD_IDEMPOTENCY_RETENTION_HOURS": "48",
                "CALLBOARD_EMAIL_BODY_RETENTION_DAYS": "0", "CALLBOARD_RETENTION_BATCH": "50", "CALLBOARD_RETENTION_INTERVAL_SECONDS": "600",
            ])
        let r = RetentionSettings(settings)
        #expect(r.batchSize == 50 && r.intervalSeconds == 600)
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        #expect(
            r.cutoffs(at: now)
                == RetentionStore.Cutoffs(
                    now: now, pageLinksExpiredBy: now - 7 * Self.day, sessionsOverBy: now - Self.day,
                    idempotencyKeysCreatedBy: now - 2 * Self.day, emailsSentBy: now))
        let defaults = RetentionSettings(try Settings(environment: ["DATABASE_URL": "postgres://callboard@127.0.0.1:5432/callboard"]))
        #expect(defaults == RetentionSettings())
        #expect(
            defaults.cutoffs(at: now)
                == RetentionStore.Cutoffs(
                    now: now, pageLinksExpiredBy: now - 30 * Self.day, sessionsOverBy: now - 30 * Self.day,
                    idempotencyKeysCreatedBy: now - Self.day, emailsSentBy: now - 90 * Self.day))
    }
}
