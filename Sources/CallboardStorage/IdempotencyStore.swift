import Foundation
import Logging
import PostgresNIO

/// Remembers the first response to each (caller, Idempotency-Key).
public enum IdempotencyStore {
    public struct Stored: Sendable {
        public var fingerprint: [UInt8]
        public var status: Int?
        public var headers: [String: String]
        public var body: [UInt8]
    }

    public enum Claim: Sendable {
        /// This call owns the key and must `complete` or `release` it.
        case claimed
        /// Another call had the key first: its stored response (status nil while it is still running).
        case existing(Stored)
    }

    /// An in-progress claim older than this belongs to a process that died between claiming and
    /// completing (every request ends within `CALLBOARD_REQUEST_TIMEOUT_SECONDS`, at most 600 s):
    /// the next call with the key takes it over and runs, instead of answering 409 forever.
    public static let abandonedAfterSeconds = 900

    public static func claim(principal: String, key: String, fingerprint: [UInt8], on client: PostgresClient, logger: Logger) async throws -> Claim {
        let inserted = try await client.query(
            """
            INSERT INTO idempotency_keys (principal, key, fingerprint) VALUES (\(principal), \(key), \(ByteBuffer(bytes: fingerprint)))
            ON CONFLICT (principal, key) DO UPDATE SET created_at = now()
              WHERE idempotency_keys.status IS NULL AND idempotency_keys.fingerprint = EXCLUDED.fingerprint
                AND idempotency_keys.created_at < now() - make_interval(secs => \(abandonedAfterSeconds))
            RETURNING key
            """, logger: logger
        ).collect()
        if !inserted.isEmpty { return .claimed }
        let rows = try await client.query(
            """
            SELECT fingerprint, status, headers::text, body FROM idempotency_keys WHERE principal = \(principal) AND key = \(key)
            """, logger: logger)
        for try await (fp, status, headers, body) in rows.decode((ByteBuffer, Int?, String?, ByteBuffer?).self) {
            let h = try headers.map { try JSONText.decode($0).objectValue?.compactMapValues(\.stringValue) ?? [:] } ?? [:]
            return .existing(Stored(fingerprint: Array(buffer: fp), status: status, headers: h, body: body.map { Array(buffer: $0) } ?? []))
        }
        // Released between the two statements: try once more.
        return try await claim(principal: principal, key: key, fingerprint: fingerprint, on: client, logger: logger)
    }

    public static func complete(
        principal: String, key: String, status: Int, headers: [String: String], body: [UInt8],
        on client: PostgresClient, logger: Logger
    ) async throws {
        try await client.query(
            """
            UPDATE idempotency_keys SET status = \(status), headers = \(JSONText.encode(headers))::jsonb, body = \(ByteBuffer(bytes: body))
            WHERE principal = \(principal) AND key = \(key)
            """, logger: logger)
    }

    /// Forgets a claim whose request failed before changing anything, so a retry runs afresh.
    public static func release(principal: String, key: String, on client: PostgresClient, logger: Logger) async throws {
        try await client.query("DELETE FROM idempotency_keys WHERE principal = \(principal) AND key = \(key) AND status IS NULL", logger: logger)
    }
}
