import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// A fixed-window limit: at most `limit` actions per `window` for one key of `bucket`.
public struct RateLimit: Sendable, Equatable {
    public var bucket: String
    public var limit: Int
    public var window: TimeInterval

    public init(bucket: String, limit: Int, window: TimeInterval) {
        self.bucket = bucket
        self.limit = limit
        self.window = window
    }

    /// An expired link's "email me a new link": 3 new links per link an hour.
    public static let linkRefresh = RateLimit(bucket: "link_refresh", limit: 3, window: 3600)
    /// Staff sign-in links: 5 requests per address in 15 minutes.
    public static let staffSignIn = RateLimit(bucket: "staff_sign_in", limit: 5, window: 900)
}

/// Over a limit: the seconds until its window ends (the page's Retry-After).
public struct RateLimited: Error, Sendable, Equatable {
    public var retryAfter: Int

    public init(retryAfter: Int) { self.retryAfter = retryAfter }
}

/// Counts actions against limits in PostgreSQL (`RateLimitStore`), shared by every instance, on the
/// injected clock. Callers count only once the key is known to be real, by its id, never a secret:
/// what a stranger sends (unknown links, made-up addresses) writes no row.
public struct RateLimiter: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger

    public init(db: PostgresClient, time: any TimeSource, logger: Logger) {
        self.db = db
        self.time = time
        self.logger = logger
    }

    /// Counts one action for `key` (a link's or staff member's id); throws `RateLimited` when over the limit.
    public func count(_ limit: RateLimit, key: UUID) async throws {
        let hit = try await RateLimitStore.hit(
            bucket: limit.bucket, key: key, limit: limit.limit, window: limit.window, at: time.now(), on: db, logger: logger)
        guard hit.allowed else { throw RateLimited(retryAfter: hit.retryAfter) }
    }

    /// Counts one action for something that is not real (a sign-in address that is not an active staff
    /// member) so that it is answered exactly as a real one would be, in a shared slot: no row of its own.
    public func countUnknown(_ limit: RateLimit, value: String) async throws {
        let hit = try await RateLimitStore.hitSlot(
            bucket: limit.bucket, value: value, limit: limit.limit, window: limit.window, at: time.now(), on: db, logger: logger)
        guard hit.allowed else { throw RateLimited(retryAfter: hit.retryAfter) }
    }
}
