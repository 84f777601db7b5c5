import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// Emails a fresh link for an expired one: a new token of the same purpose, to whoever holds that
/// role on the request now, in the email that purpose's link arrives in (sign-off request,
/// information request).
struct LinkRefresher: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let outbox: EmailOutbox
    let sla: PreviewSLAHolder
    var limit: RateLimit = .linkRefresh

    /// Throws `RateLimited` past the limit: counted per link (by its id, never its token), and only
    /// here, once the link is known to be real, expired and asked for with its CSRF token.
    func send(replacing old: LinkRecord, for r: RequestRecord) async throws {
        let now = time.now()
        let kind: EmailKind = old.purpose == .signOff ? .signOffRequest : .informationRequest
        guard let fresh = outbox.pageLinks(for: kind, r, calendar: sla.current.calendar(for: r.division), at: now).values.first else { return }
        try await RateLimiter(db: db, time: time, logger: logger).count(limit, key: old.id)
        var context = outbox.baseContext(r)
        context["link"] = outbox.url(fresh)
        try await db.transaction(logger: logger) { conn in
            try await LinkStore.insert(fresh, on: conn, logger: logger)
            try await outbox.queue(
                kind, to: fresh.record.email, requestID: r.id, context: context,
                dedupKey: "\(r.id.lowercasedString):link:\(fresh.record.id.lowercasedString)", at: now,
                on: conn, logger: logger)
        }
    }
}
