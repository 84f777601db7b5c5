import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// Staff control of the outbox: read, retry, cancel, and the suppression list.
public struct EmailService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger

    public init(db: PostgresClient, time: any TimeSource, logger: Logger) {
        self.db = db
        self.time = time
        self.logger = logger
    }

    public func list(_ filter: EmailStore.Filter, cursor: ListCursor?, limit: Int, by who: Principal) async throws
        -> (emails: [EmailRecord], next: ListCursor?)
    {
        try who.require(.readRequests)
        return try await EmailStore.list(filter, after: cursor, limit: limit, on: db, logger: logger)
    }

    /// The email, its attempts, and whether the caller may read its body.
    public func get(_ id: UUID, by who: Principal) async throws -> (EmailRecord, [EmailAttempt], bodyVisible: Bool) {
        try who.require(.readRequests)
        guard let e = try await EmailStore.fetch(id, on: db, logger: logger) else { throw ServiceError.notFound("email") }
        return (e, try await EmailStore.attempts(id, on: db, logger: logger), who.allows(.readEmailBodies))
    }

    public func retry(_ id: UUID, by who: Principal) async throws -> EmailRecord {
        try who.require(.manageEmails)
        guard let (e, changed) = try await EmailStore.retry(id: id, at: time.now(), on: db, logger: logger) else {
            throw ServiceError.notFound("email")
        }
        if !changed {
            throw ServiceError.conflict(
                "only failed, dead or cancelled emails to addresses not on the suppression list can be retried; this one is \(e.status.rawValue)")
        }
        return e
    }

    public func cancel(_ id: UUID, by who: Principal) async throws -> EmailRecord {
        try who.require(.manageEmails)
        guard let (e, changed) = try await EmailStore.cancel(id: id, at: time.now(), on: db, logger: logger) else {
            throw ServiceError.notFound("email")
        }
        if !changed { throw ServiceError.conflict("only queued, failed or dead emails can be cancelled; this one is \(e.status.rawValue)") }
        return e
    }

    public func suppressions(by who: Principal) async throws -> [(address: String, reason: String, createdAt: Date)] {
        try who.require(.readRequests)
        return try await EmailStore.suppressions(on: db, logger: logger)
    }

    public func suppress(_ body: JSONValue, by who: Principal) async throws -> String {
        try who.require(.manageEmails)
        var errors = ErrorCollector()
        var address: String?
        var reason: String?
        if var r = ObjectReader(body, at: "", errors: &errors) {
            address = r.email("address", required: true)
            reason = r.string("reason", required: false, maxLength: 500)
            errors.add(contentsOf: r.finish())
        }
        try errors.throwIfAny()
        let now = time.now()
        try await db.transaction(logger: logger) { conn in
            try await EmailStore.suppress(address!, reason: reason ?? "added by \(who.email ?? "staff")", at: now, on: conn, logger: logger)
        }
        return address!
    }

    public func unsuppress(_ address: String, by who: Principal) async throws {
        try who.require(.manageEmails)
        guard try await EmailStore.unsuppress(address, on: db, logger: logger) else { throw ServiceError.notFound("suppressed address") }
    }
}
