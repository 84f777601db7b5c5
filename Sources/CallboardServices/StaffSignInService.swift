import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// Staff pages' sign-in: an emailed single-use link (15 minutes) exchanged for a session cookie.
public struct StaffSignInService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let outbox: EmailOutbox
    let signInLimit: RateLimit
    public static let linkLifetime: TimeInterval = 15 * 60
    public static let sessionLifetime: TimeInterval = 12 * 3600

    public init(db: PostgresClient, time: any TimeSource, logger: Logger, outbox: EmailOutbox, signInLimit: RateLimit = .staffSignIn) {
        self.db = db
        self.time = time
        self.logger = logger
        self.outbox = outbox
        self.signInLimit = signInLimit
    }

    /// Emails a sign-in link when the address belongs to an active staff member; says nothing either way.
    /// Throws `RateLimited` past `signInLimit`, for any address alike: an active staff member's requests
    /// are counted by their id; other addresses are counted in shared slots, so they write no row, yet
    /// are answered as a real address would be: the answers do not tell which addresses are staff.
    public func requestLink(email: String) async throws {
        guard FieldRules.emailProblem(email) == nil else { return }
        let limiter = RateLimiter(db: db, time: time, logger: logger)
        guard let staff = try await StaffStore.find(email: email, on: db, logger: logger), staff.disabledAt == nil else {
            try await limiter.countUnknown(signInLimit, value: email.lowercased())
            return
        }
        try await limiter.count(signInLimit, key: staff.id)
        let now = time.now()
        try await db.transaction(logger: logger) { conn in
            // The email carries the link's placeholder; the worker mints the token when it sends it.
            let id = try await StaffSessionStore.createSignInLink(
                staffID: staff.id, at: now, expiresAt: now.addingTimeInterval(Self.linkLifetime), on: conn, logger: logger)
            try await outbox.queue(
                .staffSignIn, to: staff.email, requestID: nil,
                context: ["link": "\(outbox.settings.baseURL)/staff/sign-in/\(LinkPlaceholder.text(for: id))"],
                dedupKey: nil, at: now, on: conn, logger: logger)
        }
    }

    public func linkState(_ token: String) async throws -> StaffSessionStore.SignInLinkState {
        try await StaffSessionStore.signInLink(token, at: time.now(), on: db, logger: logger)
    }

    /// Uses the link; the new session's cookie value, or nil when the link was used, expired or unknown.
    public func exchange(_ token: String) async throws -> String? {
        let now = time.now()
        let session = NewLink.random()
        let id = try await StaffSessionStore.exchange(
            token, session: session, csrf: NewLink.random(), at: now,
            sessionExpiresAt: now.addingTimeInterval(Self.sessionLifetime), on: db, logger: logger)
        return id == nil ? nil : session
    }

    /// The signed-in staff member (as a principal) and the session's CSRF token.
    public func session(_ cookie: String) async throws -> (Principal, csrf: String)? {
        guard let s = try await StaffSessionStore.session(cookie, at: time.now(), on: db, logger: logger) else { return nil }
        return (Principal(actor: ActorKind(s.staff.role), staffID: s.staff.id, email: s.staff.email), s.csrf)
    }

    public func signOut(_ cookie: String) async throws {
        try await StaffSessionStore.end(cookie, at: time.now(), on: db, logger: logger)
    }
}
