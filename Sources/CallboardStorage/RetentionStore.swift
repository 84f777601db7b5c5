import Foundation
import Logging
import PostgresNIO

/// What the retention job removes, kind by kind (docs/security.md, "What is stored, and for how
/// long"). Each purge is one statement over at most `limit` rows, oldest first, skipping rows
/// another process holds, so several workers can run it at once and none waits on the others.
/// `request_events` and `requests` are never read or written here.
public enum RetentionStore {
    public enum Kind: String, CaseIterable, Sendable {
        /// Page links (`links`) expired before the cutoff, with their tokens (`link_tokens`).
        case pageLinks = "page_links"
        /// Staff sign-in links (`staff_sign_in_links`) used, or expired, by the cutoff, with their tokens.
        case signInLinks = "sign_in_links"
        /// Staff sessions (`staff_sessions`) signed out of, or expired, before the cutoff.
        case staffSessions = "staff_sessions"
        /// Stored Idempotency-Key responses (`idempotency_keys`) made before the cutoff.
        case idempotencyKeys = "idempotency_keys"
        /// Bodies of emails sent before the cutoff: text, HTML and template data emptied, the row kept.
        case emailBodies = "email_bodies"
        /// Rate-limit windows (`rate_limits`, `rate_limit_slots`) ended by the cutoff.
        case rateLimits = "rate_limits"
        /// Applications never confirmed, 7 days after they were started, with their links and tokens.
        case applications
    }

    /// How long an application may wait for its applicant to confirm their address.
    public static let unconfirmedApplicationDays = 7

    /// The instant before (or at) which each kind goes.
    public struct Cutoffs: Sendable, Equatable {
        /// Now, on the application's clock: sign-in links and rate-limit windows go once over, and
        /// emptied emails record it as `body_purged_at`.
        public var now: Date
        public var pageLinksExpiredBy: Date
        public var sessionsOverBy: Date
        public var idempotencyKeysCreatedBy: Date
        public var emailsSentBy: Date
        /// Applications started by then and still unconfirmed go.
        public var unconfirmedApplicationsStartedBy: Date {
            now.addingTimeInterval(-Double(RetentionStore.unconfirmedApplicationDays) * 86_400)
        }

        public init(now: Date, pageLinksExpiredBy: Date, sessionsOverBy: Date, idempotencyKeysCreatedBy: Date, emailsSentBy: Date) {
            self.now = now
            self.pageLinksExpiredBy = pageLinksExpiredBy
            self.sessionsOverBy = sessionsOverBy
            self.idempotencyKeysCreatedBy = idempotencyKeysCreatedBy
            self.emailsSentBy = emailsSentBy
        }
    }

    /// Rows one batch removed (or emptied): of the kind's own table, and link tokens deleted with them.
    public struct Batch: Sendable, Equatable {
        public var rows: Int
        public var linkTokens: Int
        public init(rows: Int, linkTokens: Int = 0) {
            self.rows = rows
            self.linkTokens = linkTokens
        }
    }

    /// How many rows of `kind` a purge would remove now, and the link tokens that would go with them.
    /// Reads only.
    public static func count(_ kind: Kind, _ c: Cutoffs, on db: PostgresClient, logger: Logger) async throws -> Batch {
        let query: PostgresQuery
        switch kind {
        case .pageLinks:
            query = """
                SELECT count(*)::int8, (SELECT count(*) FROM link_tokens t JOIN links l ON l.id = t.link_id
                                        WHERE l.expires_at <= \(c.pageLinksExpiredBy))::int8
                FROM links WHERE expires_at <= \(c.pageLinksExpiredBy)
                """
        case .signInLinks:
            query = """
                SELECT count(*)::int8, (SELECT count(*) FROM link_tokens t JOIN staff_sign_in_links l ON l.id = t.link_id
                                        WHERE least(l.used_at, l.expires_at) <= \(c.now))::int8
                FROM staff_sign_in_links WHERE least(used_at, expires_at) <= \(c.now)
                """
        case .staffSessions:
            query = "SELECT count(*)::int8, 0::int8 FROM staff_sessions WHERE least(ended_at, expires_at) <= \(c.sessionsOverBy)"
        case .idempotencyKeys:
            query = "SELECT count(*)::int8, 0::int8 FROM idempotency_keys WHERE created_at <= \(c.idempotencyKeysCreatedBy)"
        case .emailBodies:
            query = """
                SELECT count(*)::int8, 0::int8 FROM emails
                WHERE status = 'sent' AND sent_at <= \(c.emailsSentBy) AND body_purged_at IS NULL
                """
        case .rateLimits:
            query = """
                SELECT ((SELECT count(*) FROM rate_limits WHERE window_end <= \(c.now))
                        + (SELECT count(*) FROM rate_limit_slots WHERE window_end <= \(c.now)))::int8, 0::int8
                """
        case .applications:
            let by = c.unconfirmedApplicationsStartedBy
            query = """
                SELECT count(*)::int8, (SELECT count(*) FROM link_tokens t JOIN application_links l ON l.id = t.link_id
                                        JOIN applications a ON a.id = l.application_id
                                        WHERE a.confirmed_at IS NULL AND a.created_at <= \(by))::int8
                FROM applications WHERE confirmed_at IS NULL AND created_at <= \(by)
                """
        }
        for try await (rows, tokens) in try await db.query(query, logger: logger).decode((Int64, Int64).self) {
            return Batch(rows: Int(rows), linkTokens: Int(tokens))
        }
        return Batch(rows: 0)
    }

    /// Removes (or, for email bodies, empties) at most `limit` rows of `kind`, oldest first, in one
    /// statement; fewer than `limit` means none are left. Rows another transaction holds are skipped.
    public static func purgeBatch(_ kind: Kind, _ c: Cutoffs, limit: Int, on db: PostgresClient, logger: Logger) async throws -> Batch {
        let query: PostgresQuery
        switch kind {
        case .pageLinks:
            query = """
                WITH doomed AS (SELECT id FROM links WHERE expires_at <= \(c.pageLinksExpiredBy)
                                ORDER BY expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED),
                     tokens AS (DELETE FROM link_tokens WHERE link_id IN (SELECT id FROM doomed) RETURNING 1),
                     gone AS (DELETE FROM links WHERE id IN (SELECT id FROM doomed) RETURNING 1)
                SELECT (SELECT count(*) FROM gone)::int8, (SELECT count(*) FROM tokens)::int8
                """
        case .signInLinks:
            query = """
                WITH doomed AS (SELECT id FROM staff_sign_in_links WHERE least(used_at, expires_at) <= \(c.now)
                                ORDER BY least(used_at, expires_at) LIMIT \(limit) FOR UPDATE SKIP LOCKED),
                     tokens AS (DELETE FROM link_tokens WHERE link_id IN (SELECT id FROM doomed) RETURNING 1),
                     gone AS (DELETE FROM staff_sign_in_links WHERE id IN (SELECT id FROM doomed) RETURNING 1)
                SELECT (SELECT count(*) FROM gone)::int8, (SELECT count(*) FROM tokens)::int8
                """
        case .staffSessions:
            query = """
                WITH doomed AS (SELECT token_hash FROM staff_sessions WHERE least(ended_at, expires_at) <= \(c.sessionsOverBy)
                                ORDER BY least(ended_at, expires_at) LIMIT \(limit) FOR UPDATE SKIP LOCKED),
                     gone AS (DELETE FROM staff_sessions WHERE token_hash IN (SELECT token_hash FROM doomed) RETURNING 1)
                SELECT count(*)::int8, 0::int8 FROM gone
                """
        case .idempotencyKeys:
            query = """
                WITH doomed AS (SELECT principal, key FROM idempotency_keys WHERE created_at <= \(c.idempotencyKeysCreatedBy)
                                ORDER BY created_at LIMIT \(limit) FOR UPDATE SKIP LOCKED),
                     gone AS (DELETE FROM idempotency_keys k USING doomed d WHERE k.principal = d.principal AND k.key = d.key RETURNING 1)
                SELECT count(*)::int8, 0::int8 FROM gone
                """
        case .emailBodies:
            query = """
                WITH doomed AS (SELECT id FROM emails WHERE status = 'sent' AND sent_at <= \(c.emailsSentBy) AND body_purged_at IS NULL
                                ORDER BY sent_at LIMIT \(limit) FOR UPDATE SKIP LOCKED),
                     emptied AS (UPDATE emails e SET body_text = '', body_html = '', template_data = '{}', body_purged_at = \(c.now)
                                 FROM doomed d WHERE e.id = d.id RETURNING 1)
                SELECT count(*)::int8, 0::int8 FROM emptied
                """
        case .rateLimits:
            // Both tables in one statement, at most `limit` rows of each: the total reaches `limit`
            // whenever either may have more.
            query = """
                WITH a AS (DELETE FROM rate_limits WHERE (bucket, key) IN (
                               SELECT bucket, key FROM rate_limits WHERE window_end <= \(c.now)
                               ORDER BY window_end LIMIT \(limit) FOR UPDATE SKIP LOCKED) RETURNING 1),
                     b AS (DELETE FROM rate_limit_slots WHERE (bucket, slot) IN (
                               SELECT bucket, slot FROM rate_limit_slots WHERE window_end <= \(c.now)
                               ORDER BY window_end LIMIT \(limit) FOR UPDATE SKIP LOCKED) RETURNING 1)
                SELECT ((SELECT count(*) FROM a) + (SELECT count(*) FROM b))::int8, 0::int8
                """
        case .applications:
            query = """
                WITH doomed AS (SELECT id FROM applications WHERE confirmed_at IS NULL AND created_at <= \(c.unconfirmedApplicationsStartedBy)
                                ORDER BY created_at LIMIT \(limit) FOR UPDATE SKIP LOCKED),
                     tokens AS (DELETE FROM link_tokens WHERE link_id IN (
                                    SELECT l.id FROM application_links l WHERE l.application_id IN (SELECT id FROM doomed)) RETURNING 1),
                     gone AS (DELETE FROM applications WHERE id IN (SELECT id FROM doomed) RETURNING 1)
                SELECT (SELECT count(*) FROM gone)::int8, (SELECT count(*) FROM tokens)::int8
                """
        }
        for try await (rows, tokens) in try await db.query(query, logger: logger).decode((Int64, Int64).self) {
            return Batch(rows: Int(rows), linkTokens: Int(tokens))
        }
        return Batch(rows: 0)
    }
}
