import Foundation
import Logging
import PostgresNIO

/// Fixed-window rate limits in PostgreSQL (`rate_limits`), shared by every instance. One statement a
/// hit: it starts a new window when the last one has ended, counts, and answers. The times come from
/// the caller's clock, never the server's.
public enum RateLimitStore {
    public struct Hit: Sendable, Equatable {
        /// Hits counted in the window, this one included (at most `limit + 1`).
        public var hits: Int
        public var windowEnd: Date
        /// Whether this hit is within the limit.
        public var allowed: Bool
        /// Seconds until the window ends (at least 1).
        public var retryAfter: Int
    }

    /// The slots per bucket that keys not known to be real share (`rate_limit_slots`): two bytes of a keyed hash.
    public static let slots = 65_536

    /// Counts one hit for a real key: an id (a link's, a staff member's), never a secret.
    public static func hit(
        bucket: String, key: UUID, limit: Int, window: TimeInterval, at now: Date, on client: PostgresClient, logger: Logger
    ) async throws -> Hit {
        let end = now.addingTimeInterval(window)
        let rows = try await client.query(
            """
            INSERT INTO rate_limits AS r (bucket, key, window_start, window_end, hits) VALUES (\(bucket), \(key), \(now), \(end), 1)
            ON CONFLICT (bucket, key) DO UPDATE SET
                window_start = CASE WHEN r.window_end <= EXCLUDED.window_start THEN EXCLUDED.window_start ELSE r.window_start END,
                window_end = CASE WHEN r.window_end <= EXCLUDED.window_start THEN EXCLUDED.window_end ELSE r.window_end END,
                hits = CASE WHEN r.window_end <= EXCLUDED.window_start THEN 1 ELSE least(r.hits, \(limit)::int) + 1 END
            RETURNING hits, window_end
            """, logger: logger)
        return try await outcome(rows, limit: limit, at: now)
    }

    /// Counts one hit for a value not known to be real (a sign-in address that is not an active staff
    /// member) in the slot a keyed hash of it picks: the same answers as `hit`, without a row per value.
    /// Values sharing a slot share its count.
    public static func hitSlot(
        bucket: String, value: String, limit: Int, window: TimeInterval, at now: Date, on client: PostgresClient, logger: Logger
    ) async throws -> Hit {
        let end = now.addingTimeInterval(window)
        let rows = try await client.query(
            """
            WITH k AS (SELECT sha256(secret || convert_to(\(value), 'UTF8')) AS h FROM rate_limit_secret)
            INSERT INTO rate_limit_slots AS r (bucket, slot, window_start, window_end, hits)
            SELECT \(bucket), get_byte(h, 0) * 256 + get_byte(h, 1), \(now), \(end), 1 FROM k
            ON CONFLICT (bucket, slot) DO UPDATE SET
                window_start = CASE WHEN r.window_end <= EXCLUDED.window_start THEN EXCLUDED.window_start ELSE r.window_start END,
                window_end = CASE WHEN r.window_end <= EXCLUDED.window_start THEN EXCLUDED.window_end ELSE r.window_end END,
                hits = CASE WHEN r.window_end <= EXCLUDED.window_start THEN 1 ELSE least(r.hits, \(limit)::int) + 1 END
            RETURNING hits, window_end
            """, logger: logger)
        return try await outcome(rows, limit: limit, at: now)
    }

    private static func outcome(_ rows: PostgresRowSequence, limit: Int, at now: Date) async throws -> Hit {
        for try await (hits, end) in rows.decode((Int, Date).self) {
            return Hit(
                hits: hits, windowEnd: end, allowed: hits <= limit,
                retryAfter: max(1, Int(end.timeIntervalSince(now).rounded(.up))))
        }
        throw RateLimitStoreError.missingSecret
    }
}

public enum RateLimitStoreError: Error, CustomStringConvertible {
    /// `rate_limit_secret` is empty (migration 0013 makes its one row).
    case missingSecret

    public var description: String { "rate_limit_secret has no row: migration 0013_rate_limits makes it" }
}
