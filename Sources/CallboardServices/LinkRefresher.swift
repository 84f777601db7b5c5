import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// Emails a fresh link to the person an expired one was for: a new token of the same purpose, with
/// the email that purpose's link arrives in (sign-off request, information request).
struct LinkRefresher: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let outbox: EmailOutbox
    let sla: PreviewSLAHolder

    func send(replacing old: LinkRecord, for r: RequestRecord) async throws {
        let now = time.now()
        let kind: EmailKind = old.purpose == .signOff ? .signOffRequest : .informationRequest
        guard var fresh = outbox.pageLinks(for: kind, r, calendar: sla.current.calendar(for: r.division), at: now).values.first else { return }
        fresh.record.email = old.email
        var context = outbox.baseContext(r)
        context["link"] = outbox.url(fresh)
        try await db.transaction(logger: logger) { conn in
            try await LinkStore.insert(fresh, on: conn, logger: logger)
            try await outbox.queue(kind, to: old.email, requestID: r.id, context: context,
                                   dedupKey: "\(r.id.uuidString.lowercased()):link:\(fresh.record.id.uuidString.lowercased())", at: now,
                                   on: conn, logger: logger)
        }
    }
}
