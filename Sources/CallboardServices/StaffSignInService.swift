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
    public static let linkLifetime: TimeInterval = 15 * 60
    public static let sessionLifetime: TimeInterval = 12 * 3600

    public init(db: PostgresClient, time: any TimeSource, logger: Logger, outbox: EmailOutbox) {
        self.db = db
        self.time = time
        self.logger = logger
        self.outbox = outbox
    }

    /// Emails a sign-in link when the address belongs to an active staff member; says nothing either way.
    public func requestLink(email: String) async throws {
        guard FieldRules.emailProblem(email) == nil, let staff = try await StaffStore.find(email: email, on: db, logger: logger),
            staff.disabledAt == nil
        else { return }
        let now = time.now()
        let token = NewLink.random()
        try await db.transaction(logger: logger) { conn in
            try await StaffSessionStore.createSignInLink(
                staffID: staff.id, token: token, at: now, expiresAt: now.addingTimeInterval(Self.linkLifetime),
                on: conn, logger: logger)
            try await outbox.queue(
                .staffSignIn, to: staff.email, requestID: nil, context: ["link": "\(outbox.settings.baseURL)/staff/sign-in/\(token)"],
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
