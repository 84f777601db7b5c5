import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// The sign-off owner's page, reached by the emailed link: what they see, and their decision.
public struct SignOffService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let outbox: EmailOutbox
    let sla: PreviewSLAHolder
    let requests: RequestService

    public init(
        db: PostgresClient, time: any TimeSource, logger: Logger, outbox: EmailOutbox, sla: PreviewSLAHolder,
        stages: StageDurations = StageDurations()
    ) {
        self.db = db
        self.time = time
        self.logger = logger
        self.outbox = outbox
        self.sla = sla
        requests = RequestService(db: db, time: time, logger: logger, outbox: outbox, sla: sla, stages: stages)
    }

    /// What the page shows for a link.
    public enum View: Sendable {
        /// The owner may decide; `changed` lists what changed since they were asked.
        case open(LinkRecord, RequestRecord, changed: [String])
        case decided(RequestRecord, decision: SignOffDecision, by: String, at: Date)
        case expired(LinkRecord, RequestRecord)
        /// Withdrawn, or moved on without a decision to make.
        case closed(RequestRecord)
    }

    public enum Failure: Error, Sendable, Equatable {
        case invalid([FieldError])
        /// The request changed after the page was shown: the owner must look again.
        case changed
    }

    public func view(token: String) async throws -> View {
        let (link, r) = try await PageLinks.open(token, purpose: .signOff, db: db, logger: logger)
        // A link acts only for the person who is the sign-off owner now.
        guard link.email.lowercased() == r.checklist.signOffEmail?.lowercased() else { throw LinkRefusal.unknownLink }
        // The page reads only what it shows, never the whole history: the latest decision, or the
        // names of the fields changed since the owner was asked.
        if let d = r.signOffDecision, let e = try await EventStore.latestSignOffDecision(requestID: r.id, on: db, logger: logger) {
            return .decided(r, decision: d, by: e.actorID ?? e.actorKind.rawValue, at: e.occurredAt)
        }
        guard r.state == .signoffPending else { return .closed(r) }
        // A link from an earlier round of sign-off (asked again since) no longer decides.
        guard time.now() < link.expiresAt, link.createdAt >= r.stateEnteredAt else { return .expired(link, r) }
        // The fields changed by staff or the contact since the owner was asked.
        let changed = try await EventStore.fieldsChanged(requestID: r.id, afterVersion: link.requestVersion, on: db, logger: logger)
        return .open(link, r, changed: changed)
    }

    /// The owner's decision: approve, or request changes with a reason.
    /// `shownVersion` is the request version the page showed: a decision covers what the owner saw.
    public func decide(token: String, csrf: String, shownVersion: Int?, approve: Bool?, reason: String) async throws -> View {
        let current = try await view(token: token)
        guard case .open(let link, let r, _) = current else { return current }
        try PageLinks.requireCSRF(csrf, of: link)
        guard shownVersion == r.version else { throw Failure.changed }
        var errors: [FieldError] = []
        if approve == nil { errors.append(FieldError(pointer: "decision", message: "Select whether you approve the dashboard")) }
        if approve == false, reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            errors.append(FieldError(pointer: "reason", message: "Enter what needs to change"))
        }
        if reason.count > 5000 { errors.append(FieldError(pointer: "reason", message: "Reason must be 5,000 characters or fewer")) }
        guard errors.isEmpty, let approve else { throw Failure.invalid(errors) }
        let owner = Principal(actor: .signOffOwner, email: link.email)
        let body: JSONValue? = approve ? nil : .object(["reason": .string(reason)])
        do {
            _ = try await requests.transition(r.id, approve ? .approveSignOff : .requestChanges, body, expectedVersion: r.version, by: owner)
        } catch ServiceError.stale {
            throw Failure.changed
        }
        return try await view(token: token)
    }

    /// Emails a fresh link to the person the (expired) link was for. False when there is nothing to decide any more.
    public func refresh(token: String, csrf: String) async throws -> Bool {
        guard case .expired(let link, let r) = try await view(token: token) else { return false }
        try PageLinks.requireCSRF(csrf, of: link)
        try await LinkRefresher(db: db, time: time, logger: logger, outbox: outbox, sla: sla).send(replacing: link, for: r)
        return true
    }
}
