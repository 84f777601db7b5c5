import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// An application made at the front door, before it is a request.
public struct ApplicationRecord: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Being filled in.
        case draft
        /// Sent: the confirmation link is emailed to the applicant.
        case submitted
        /// The applicant confirmed their address: `requestID` is the request made from it.
        case confirmed
        /// A request for the same service existed (`duplicateOf`): none was made.
        case duplicate
    }

    public var id: UUID
    public var csrf: String
    /// `kind`, `department`, `division`, `items` (each answered item as the API takes it),
    /// `skipped` (item names), `forms` (each step's form as it was last posted).
    public var answers: [String: JSONValue]
    public var email: String?
    public var status: Status
    public var requestID: UUID?
    public var duplicateOf: UUID?
    public var createdAt: Date
}

/// A confirm or resume link of an application, found by its token.
public struct ApplicationLink: Sendable, Equatable {
    public enum Purpose: String, Sendable { case confirm, resume }
    public var id: UUID
    public var applicationID: UUID
    public var purpose: Purpose
    public var email: String
    public var expiresAt: Date
    public var usedAt: Date?
}

/// SQL for `applications` and `application_links` (migration 0016). Sessions and links are found
/// by the SHA-256 of their secret; the secrets themselves are never stored.
public enum ApplicationStore {
    static let columns = "a.id, a.csrf, a.answers::text, a.email, a.status, a.request_id, a.duplicate_of, a.created_at"

    public static func insert(session: String, csrf: String, at now: Date, on client: PostgresClient, logger: Logger) async throws
        -> ApplicationRecord
    {
        let id = UUID()
        try await client.query(
            """
            INSERT INTO applications (id, session_hash, csrf, created_at, updated_at)
            VALUES (\(id), \(LinkStore.hash(session)), \(csrf), \(now), \(now))
            """, logger: logger)
        return ApplicationRecord(id: id, csrf: csrf, answers: [:], status: .draft, createdAt: now)
    }

    /// The application a session cookie names, started after `startedAfter` (older ones are purged).
    public static func bySession(_ session: String, startedAfter: Date, on client: PostgresClient, logger: Logger) async throws
        -> ApplicationRecord?
    {
        let rows = try await client.query(
            "SELECT \(unescaped: columns) FROM applications a WHERE a.session_hash = \(LinkStore.hash(session)) AND a.created_at > \(startedAfter)",
            logger: logger)
        for try await row in rows { return try decode(row) }
        return nil
    }

    public static func fetch(_ id: UUID, lock: Bool, on conn: PostgresConnection, logger: Logger) async throws -> ApplicationRecord? {
        let sql = "SELECT \(columns) FROM applications a WHERE a.id = $1" + (lock ? " FOR UPDATE" : "")
        var binds = PostgresBindings()
        binds.append(id)
        for try await row in try await conn.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) { return try decode(row) }
        return nil
    }

    public static func save(
        _ id: UUID, answers: [String: JSONValue], email: String?, status: ApplicationRecord.Status, at now: Date,
        on client: PostgresClient, logger: Logger
    ) async throws {
        try await client.query(
            """
            UPDATE applications SET answers = \(JSONValue.object(answers).serializedString)::jsonb, email = \(email),
                status = \(status.rawValue), updated_at = \(now)
            WHERE id = \(id) AND status IN ('draft', 'submitted')
            """, logger: logger)
    }

    /// A new session for the application (the resume link's): the old cookie stops working.
    public static func rotateSession(_ id: UUID, session: String, at now: Date, on conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query(
            "UPDATE applications SET session_hash = \(LinkStore.hash(session)), updated_at = \(now) WHERE id = \(id)", logger: logger)
    }

    public static func finish(
        _ id: UUID, status: ApplicationRecord.Status, requestID: UUID?, duplicateOf: UUID?, at now: Date, on conn: PostgresConnection,
        logger: Logger
    ) async throws {
        try await conn.query(
            """
            UPDATE applications SET status = \(status.rawValue), request_id = \(requestID), duplicate_of = \(duplicateOf),
                answers = answers - 'forms',
                confirmed_at = \(now), updated_at = \(now)
            WHERE id = \(id)
            """, logger: logger)
    }

    public static func createLink(
        _ applicationID: UUID, purpose: ApplicationLink.Purpose, email: String, at now: Date, expiresAt: Date, on conn: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        let id = UUID()
        try await conn.query(
            """
            INSERT INTO application_links (id, application_id, purpose, email, created_at, expires_at)
            VALUES (\(id), \(applicationID), \(purpose.rawValue), \(email), \(now), \(expiresAt))
            """, logger: logger)
        return id
    }

    /// The link a token opens (minted by the worker into `link_tokens`), locked when `lock`.
    public static func link(_ token: String, lock: Bool = false, on conn: PostgresConnection, logger: Logger) async throws -> ApplicationLink? {
        var binds = PostgresBindings()
        binds.append(LinkStore.hash(token))
        let sql = """
            SELECT l.id, l.application_id, l.purpose, l.email, l.expires_at, l.used_at
            FROM link_tokens t JOIN application_links l ON l.id = t.link_id WHERE t.token_hash = $1
            """ + (lock ? " FOR UPDATE OF l" : "")
        for try await (id, app, purpose, email, expires, used) in try await conn.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            .decode((UUID, UUID, String, String, Date, Date?).self)
        {
            guard let p = ApplicationLink.Purpose(rawValue: purpose) else { return nil }
            return ApplicationLink(id: id, applicationID: app, purpose: p, email: email, expiresAt: expires, usedAt: used)
        }
        return nil
    }

    public static func useLink(_ id: UUID, at now: Date, on conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query("UPDATE application_links SET used_at = \(now) WHERE id = \(id)", logger: logger)
    }

    /// A request for the same service that is not withdrawn: the same start page, or the same name
    /// in the same department.
    public static func existingRequest(
        startPageURL: String?, serviceName: String, department: String, on conn: PostgresConnection, logger: Logger
    ) async throws -> (id: UUID, reference: String)? {
        // Two confirmations for one service at once: the second waits here and then sees the first's request.
        try await conn.query(
            """
            SELECT pg_advisory_xact_lock(hashtext('apply-url:' || coalesce(\(startPageURL), ''))),
                   pg_advisory_xact_lock(hashtext('apply-name:' || lower(\(serviceName)) || '/' || lower(\(department))))
            """, logger: logger)
        let rows = try await conn.query(
            """
            SELECT id, reference FROM requests
            WHERE state <> 'withdrawn' AND (
                (\(startPageURL)::text IS NOT NULL AND rtrim(lower(items #>> '{service,value,start_page_url}'), '/') = \(startPageURL))
                OR (lower(service_name) = lower(\(serviceName)) AND lower(department) = lower(\(department))))
            ORDER BY created_at LIMIT 1
            """, logger: logger)
        for try await (id, reference) in rows.decode((UUID, String).self) { return (id, reference) }
        return nil
    }

    static func decode(_ row: PostgresRow) throws -> ApplicationRecord {
        let (id, csrf, answers, email, status, request, duplicate, created) = try row.decode(
            (UUID, String, String, String?, String, UUID?, UUID?, Date).self)
        return ApplicationRecord(
            id: id, csrf: csrf, answers: (try? JSONValue.parse(answers))?.objectValue ?? [:], email: email,
            status: ApplicationRecord.Status(rawValue: status) ?? .draft, requestID: request, duplicateOf: duplicate, createdAt: created)
    }
}
