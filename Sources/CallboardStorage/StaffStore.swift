import CallboardDomain
import Foundation
import Logging
import PostgresNIO

public enum StaffStore {
    public enum InsertOutcome: Sendable {
        case created(StaffRecord)
        case emailTaken
    }

    public static func insert(_ s: StaffRecord, on client: PostgresClient, logger: Logger) async throws -> InsertOutcome {
        let rows = try await client.query(
            """
            INSERT INTO staff (id, email, name, role, created_at) VALUES (\(s.id), \(s.email), \(s.name), \(s.role.rawValue), \(s.createdAt))
            ON CONFLICT DO NOTHING RETURNING id
            """, logger: logger
        ).collect()
        return rows.isEmpty ? .emailTaken : .created(s)
    }

    public static func find(email: String, on client: PostgresClient, logger: Logger) async throws -> StaffRecord? {
        try await one(
            client.query("SELECT id, email, name, role, created_at, disabled_at FROM staff WHERE lower(email) = lower(\(email))", logger: logger))
    }

    public static func find(id: UUID, on client: PostgresClient, logger: Logger) async throws -> StaffRecord? {
        try await one(client.query("SELECT id, email, name, role, created_at, disabled_at FROM staff WHERE id = \(id)", logger: logger))
    }

    public static func list(on client: PostgresClient, logger: Logger) async throws -> [StaffRecord] {
        try await all(client.query("SELECT id, email, name, role, created_at, disabled_at FROM staff ORDER BY created_at, id", logger: logger))
    }

    /// Disables the account and revokes its tokens in one transaction, unless it is the last active admin.
    public static func disable(id: UUID, at: Date, on client: PostgresClient, logger: Logger) async throws -> ChangeOutcome {
        try await client.transaction(logger: logger) { conn in
            guard try await keepsAnAdmin(unless: id, on: conn, logger: logger) else { return .lastAdmin }
            let rows = try await conn.query(
                """
                UPDATE staff SET disabled_at = coalesce(disabled_at, \(at)) WHERE id = \(id)
                RETURNING id, email, name, role, created_at, disabled_at
                """, logger: logger)
            guard let staff = try await all(rows).first else { return .notFound }
            try await conn.query("UPDATE api_tokens SET revoked_at = \(at) WHERE staff_id = \(id) AND revoked_at IS NULL", logger: logger)
            return .changed(staff)
        }
    }

    public enum ChangeOutcome: Sendable {
        case changed(StaffRecord)
        case notFound
        /// The change would leave no active admin.
        case lastAdmin
    }

    /// Changes a staff member's role, refusing to demote the last active admin. The active admins'
    /// rows are locked first, so two admins demoting each other at once cannot both succeed.
    public static func changeRole(id: UUID, to role: StaffRole, on client: PostgresClient, logger: Logger) async throws -> ChangeOutcome {
        try await client.transaction(logger: logger) { conn in
            guard try await keepsAnAdmin(unless: role == .admin ? nil : id, on: conn, logger: logger) else { return .lastAdmin }
            let rows = try await conn.query(
                """
                UPDATE staff SET role = \(role.rawValue) WHERE id = \(id)
                RETURNING id, email, name, role, created_at, disabled_at
                """, logger: logger)
            return try await all(rows).first.map(ChangeOutcome.changed) ?? .notFound
        }
    }

    /// Whether an active admin remains without `id` (true when `id` is nil or no active admin), holding the active
    /// admins' rows locked until the transaction ends.
    static func keepsAnAdmin(unless id: UUID?, on conn: PostgresConnection, logger: Logger) async throws -> Bool {
        let admins = try await conn.query(
            "SELECT id FROM staff WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id FOR UPDATE", logger: logger
        ).collect().map { try $0.decode(UUID.self) }
        guard let id, admins.contains(id) else { return true }
        return admins.count > 1
    }

    private static func one(_ rows: PostgresRowSequence) async throws -> StaffRecord? { try await all(rows).first }

    private static func all(_ rows: PostgresRowSequence) async throws -> [StaffRecord] {
        var out: [StaffRecord] = []
        for try await (id, email, name, role, created, disabled) in rows.decode((UUID, String, String, String, Date, Date?).self) {
            out.append(
                StaffRecord(
                    id: id, email: email, name: name, role: StaffRole(rawValue: role) ?? .viewer,
                    createdAt: created, disabledAt: disabled))
        }
        return out
    }
}

public enum TokenStore {
    static let columns = "id, staff_id, name, created_at, expires_at, revoked_at, last_used_at"

    public static func insert(
        id: UUID, staffID: UUID, hash: [UInt8], name: String, createdAt: Date, expiresAt: Date?,
        on client: PostgresClient, logger: Logger
    ) async throws -> TokenRecord {
        let rows = try await client.query(
            """
            INSERT INTO api_tokens (id, staff_id, token_hash, name, created_at, expires_at)
            VALUES (\(id), \(staffID), \(ByteBuffer(bytes: hash)), \(name), \(createdAt), \(expiresAt))
            RETURNING id, staff_id, name, created_at, expires_at, revoked_at, last_used_at
            """, logger: logger)
        return try await decode(rows)[0]
    }

    /// The staff member behind a token hash, when the token is live and the account enabled.
    /// The hash is an index lookup; the token itself never reaches the database. `last_used_at`
    /// is written at most once a minute, so reads stay reads.
    public static func authenticate(hash: [UInt8], at now: Date, on client: PostgresClient, logger: Logger) async throws -> (
        StaffRecord, UUID, [UInt8]
    )? {
        // Read the row to the end before acting on it: a row stream left half-read holds its buffers.
        let rows = try await client.run(
            NamedStatement(
                noNulls: """
                    SELECT s.id, s.email, s.name, s.role, s.created_at, t.id, t.token_hash, t.last_used_at
                    FROM api_tokens t JOIN staff s ON s.id = t.staff_id
                    WHERE t.token_hash = \(ByteBuffer(bytes: hash)) AND t.revoked_at IS NULL
                      AND (t.expires_at IS NULL OR t.expires_at > \(now)) AND s.disabled_at IS NULL
                    """), logger: logger)
        guard let row = rows.first else { return nil }
        let (id, email, name, role, created, tokenID, stored, lastUsed) = try row.decode(
            (UUID, String, String, String, Date, UUID, ByteBuffer, Date?).self)
        if lastUsed.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            try await client.query("UPDATE api_tokens SET last_used_at = \(now) WHERE id = \(tokenID)", logger: logger)
        }
        return (
            StaffRecord(id: id, email: email, name: name, role: StaffRole(rawValue: role) ?? .viewer, createdAt: created), tokenID,
            Array(buffer: stored)
        )
    }

    public static func list(staffID: UUID?, on client: PostgresClient, logger: Logger) async throws -> [TokenRecord] {
        if let staffID {
            return try await decode(
                client.query(
                    "SELECT id, staff_id, name, created_at, expires_at, revoked_at, last_used_at FROM api_tokens WHERE staff_id = \(staffID) ORDER BY created_at, id",
                    logger: logger))
        }
        return try await decode(
            client.query(
                "SELECT id, staff_id, name, created_at, expires_at, revoked_at, last_used_at FROM api_tokens ORDER BY created_at, id", logger: logger)
        )
    }

    public static func revoke(id: UUID, at: Date, on client: PostgresClient, logger: Logger) async throws -> TokenRecord? {
        try await decode(
            client.query(
                """
                UPDATE api_tokens SET revoked_at = coalesce(revoked_at, \(at)) WHERE id = \(id)
                RETURNING id, staff_id, name, created_at, expires_at, revoked_at, last_used_at
                """, logger: logger)
        ).first
    }

    private static func decode(_ rows: PostgresRowSequence) async throws -> [TokenRecord] {
        var out: [TokenRecord] = []
        for try await (id, staff, name, created, expires, revoked, used) in rows.decode((UUID, UUID, String, Date, Date?, Date?, Date?).self) {
            out.append(TokenRecord(id: id, staffID: staff, name: name, createdAt: created, expiresAt: expires, revokedAt: revoked, lastUsedAt: used))
        }
        return out
    }
}
