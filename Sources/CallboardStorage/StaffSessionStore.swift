import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// A signed-in staff member's session.
public struct StaffSession: Sendable, Equatable {
    public var staff: StaffRecord
    public var csrf: String
    public var expiresAt: Date
}

/// Single-use sign-in links and sessions for the staff pages.
public enum StaffSessionStore {
    /// A new sign-in link, without a token: the email carries its placeholder (see `LinkTokenStore`).
    public static func createSignInLink(staffID: UUID, at now: Date, expiresAt: Date, on conn: PostgresConnection, logger: Logger) async throws
        -> UUID
    {
        let id = UUID()
        try await conn.query(
            """
            INSERT INTO staff_sign_in_links (id, staff_id, created_at, expires_at)
            VALUES (\(id), \(staffID), \(now), \(expiresAt))
            """, logger: logger)
        return id
    }

    public enum SignInLinkState: Sendable, Equatable {
        case valid(staffID: UUID)
        case used
        case expired
        case unknown
    }

    public static func signInLink(_ token: String, at now: Date, on client: PostgresClient, logger: Logger) async throws -> SignInLinkState {
        for try await (staff, expires, used, disabled) in try await client.query(
            """
            SELECT l.staff_id, l.expires_at, l.used_at, s.disabled_at
            FROM link_tokens t JOIN staff_sign_in_links l ON l.id = t.link_id JOIN staff s ON s.id = l.staff_id
            WHERE t.token_hash = \(LinkStore.hash(token))
            """, logger: logger
        ).decode((UUID, Date, Date?, Date?).self) {
            if used != nil { return .used }
            if expires <= now || disabled != nil { return .expired }
            return .valid(staffID: staff)
        }
        return .unknown
    }

    /// Uses the link (once, while valid) and opens a session; nil when the link cannot be used.
    public static func exchange(
        _ token: String, session: String, csrf: String, at now: Date, sessionExpiresAt: Date,
        on client: PostgresClient, logger: Logger
    ) async throws -> UUID? {
        let rows = try await client.query(
            """
            WITH used AS (
                UPDATE staff_sign_in_links l SET used_at = \(now)
                WHERE l.id = (SELECT link_id FROM link_tokens WHERE token_hash = \(LinkStore.hash(token))) AND l.used_at IS NULL AND l.expires_at > \(now)
                  AND EXISTS (SELECT 1 FROM staff s WHERE s.id = l.staff_id AND s.disabled_at IS NULL)
                RETURNING l.staff_id
            )
            INSERT INTO staff_sessions (token_hash, staff_id, csrf, created_at, expires_at)
            SELECT \(LinkStore.hash(session)), staff_id, \(csrf), \(now), \(sessionExpiresAt) FROM used
            RETURNING staff_id
            """, logger: logger
        ).collect()
        return try rows.first?.decode(UUID.self)
    }

    /// The live session a cookie names (not ended, not expired, staff not disabled).
    public static func session(_ token: String, at now: Date, on client: PostgresClient, logger: Logger) async throws -> StaffSession? {
        for try await (id, email, name, role, created, csrf, expires) in try await client.query(
            """
            SELECT s.id, s.email, s.name, s.role, s.created_at, x.csrf, x.expires_at
            FROM staff_sessions x JOIN staff s ON s.id = x.staff_id
            WHERE x.token_hash = \(LinkStore.hash(token)) AND x.ended_at IS NULL AND x.expires_at > \(now) AND s.disabled_at IS NULL
            """, logger: logger
        ).decode((UUID, String, String, String, Date, String, Date).self) {
            guard let r = StaffRole(rawValue: role) else { return nil }
            return StaffSession(staff: StaffRecord(id: id, email: email, name: name, role: r, createdAt: created), csrf: csrf, expiresAt: expires)
        }
        return nil
    }

    public static func end(_ token: String, at now: Date, on client: PostgresClient, logger: Logger) async throws {
        try await client.query(
            "UPDATE staff_sessions SET ended_at = \(now) WHERE token_hash = \(LinkStore.hash(token)) AND ended_at IS NULL",
            logger: logger)
    }
}
