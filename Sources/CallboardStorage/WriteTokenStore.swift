import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// A data set's write token as listed: never the token itself (only its hash is stored).
public struct WriteTokenRecord: Sendable, Equatable {
    public var id: UUID
    public var dataSetID: UUID
    public var name: String
    public var createdBy: String?
    public var createdAt: Date
    public var revokedAt: Date?
    public var lastUsedAt: Date?
}

/// Per-data-set bearer tokens for the write API (migration 0015).
public enum WriteTokenStore {
    static let columns = "id, data_set_id, name, created_by, created_at, revoked_at, last_used_at"

    public static func insert(
        id: UUID, dataSetID: UUID, hash: [UInt8], name: String, createdBy: String?, at: Date, on client: PostgresClient, logger: Logger
    ) async throws -> WriteTokenRecord {
        try await decode(
            client.query(
                """
                INSERT INTO data_set_write_tokens (id, data_set_id, token_hash, name, created_by, created_at)
                VALUES (\(id), \(dataSetID), \(ByteBuffer(bytes: hash)), \(name), \(createdBy), \(at))
                RETURNING id, data_set_id, name, created_by, created_at, revoked_at, last_used_at
                """, logger: logger))[0]
    }

    /// The live token with this hash, and the hash as stored (for the constant-time comparison).
    /// `last_used_at` is written at most once a minute, so a busy writer does not rewrite the row each call.
    public static func authenticate(hash: [UInt8], at now: Date, on client: PostgresClient, logger: Logger) async throws -> (
        WriteTokenRecord, [UInt8]
    )? {
        let rows = try await client.query(
            """
            SELECT id, data_set_id, name, created_by, created_at, revoked_at, last_used_at, token_hash
            FROM data_set_write_tokens WHERE token_hash = \(ByteBuffer(bytes: hash)) AND revoked_at IS NULL
            """, logger: logger
        ).collect()
        guard let row = rows.first else { return nil }
        let (id, ds, name, by, created, revoked, used, stored) = try row.decode(
            (UUID, UUID, String, String?, Date, Date?, Date?, ByteBuffer).self)
        if used.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            try await client.query("UPDATE data_set_write_tokens SET last_used_at = \(now) WHERE id = \(id)", logger: logger)
        }
        return (
            WriteTokenRecord(id: id, dataSetID: ds, name: name, createdBy: by, createdAt: created, revokedAt: revoked, lastUsedAt: now),
            Array(buffer: stored)
        )
    }

    public static func list(dataSetID: UUID, on client: PostgresClient, logger: Logger) async throws -> [WriteTokenRecord] {
        try await decode(
            client.query(
                """
                SELECT id, data_set_id, name, created_by, created_at, revoked_at, last_used_at
                FROM data_set_write_tokens WHERE data_set_id = \(dataSetID) ORDER BY created_at, id
                """, logger: logger))
    }

    /// Revokes (once: a second call keeps the first instant); nil when the data set has no such token.
    public static func revoke(id: UUID, dataSetID: UUID, at: Date, on client: PostgresClient, logger: Logger) async throws -> WriteTokenRecord? {
        try await decode(
            client.query(
                """
                UPDATE data_set_write_tokens SET revoked_at = coalesce(revoked_at, \(at)) WHERE id = \(id) AND data_set_id = \(dataSetID)
                RETURNING id, data_set_id, name, created_by, created_at, revoked_at, last_used_at
                """, logger: logger)
        ).first
    }

    private static func decode(_ rows: PostgresRowSequence) async throws -> [WriteTokenRecord] {
        var out: [WriteTokenRecord] = []
        for try await (id, ds, name, by, created, revoked, used) in rows.decode((UUID, UUID, String, String?, Date, Date?, Date?).self) {
            out.append(WriteTokenRecord(id: id, dataSetID: ds, name: name, createdBy: by, createdAt: created, revokedAt: revoked, lastUsedAt: used))
        }
        return out
    }
}
