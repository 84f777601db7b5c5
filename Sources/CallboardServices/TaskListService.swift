import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// The service contact's task list, reached by their emailed link: the items they owe, and saving
/// one item at a time through the same validation and lifecycle as the API.
public struct TaskListService: Sendable {
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

    public enum View: Sendable {
        case open(LinkRecord, RequestRecord)
        case expired(LinkRecord, RequestRecord)
        /// Withdrawn: nothing more to give.
        case closed(RequestRecord)
    }

    public enum Failure: Error, Sendable, Equatable {
        case invalid([FieldError])
    }

    public func view(token: String) async throws -> View {
        let (link, r) = try await PageLinks.open(token, purpose: .contact, db: db, logger: logger)
        // A link acts only for the person who is the service contact now.
        guard link.email.lowercased() == r.checklist.contactEmail?.lowercased() else { throw LinkRefusal.unknownLink }
        if r.state.isFinal { return .closed(r) }
        guard time.now() < link.expiresAt else { return .expired(link, r) }
        return .open(link, r)
    }

    /// Saves one item (`{"status": …, "value": …}` or `{"status": "not_available", "reason": …}`)
    /// as the service contact. The last one completes the information by itself.
    public func save(token: String, csrf: String, item: ItemName, _ input: JSONValue) async throws -> RequestRecord {
        guard case .open(let link, let r) = try await view(token: token) else { throw LinkRefusal.unknownLink }
        try PageLinks.requireCSRF(csrf, of: link)
        do {
            let saved = try await requests.update(
                r.id, .object(["items": .object([item.rawValue: input])]), expectedVersion: r.version,
                by: Principal(actor: .serviceContact, email: link.email))
            try await DraftStore.delete(requestID: r.id, item: item, on: db, logger: logger)
            return saved
        } catch ServiceError.validation(let errors) {
            throw Failure.invalid(errors)
        }
    }

    /// "Save and come back later": the item's answers as typed (form field id → text; the page
    /// passes only its form's own fields), unchecked until it is saved, except that no answer may
    /// hold a NUL character or run past 5000 characters.
    public func saveDraft(token: String, csrf: String, item: ItemName, answers: [String: String]) async throws {
        guard case .open(let link, let r) = try await view(token: token) else { throw LinkRefusal.unknownLink }
        try PageLinks.requireCSRF(csrf, of: link)
        let kept = answers.filter {
            $0.key != "csrf" && $0.key != "action" && !$0.key.unicodeScalars.contains("\u{0}") && !$0.value.isEmpty
        }
        var errors = ErrorCollector()
        for (key, value) in kept.sorted(by: { $0.key < $1.key }) {
            // Where the item's own validation would point: the reason and the yes/no choice sit outside `value`.
            let at = key == "reason" || key == "availability" ? "/items/\(item.rawValue)/reason" : "/items/\(item.rawValue)/value/\(key)"
            if value.unicodeScalars.contains("\u{0}") {
                errors.add(at, "must not contain the NUL character")
            } else if value.count > 5000 {
                errors.add(at, "must be at most 5000 characters")
            }
        }
        if !errors.isEmpty { throw Failure.invalid(errors.errors) }
        try await DraftStore.save(requestID: r.id, item: item, answers: kept, at: time.now(), on: db, logger: logger)
    }

    public func drafts(_ r: RequestRecord) async throws -> [ItemName: [String: String]] {
        try await DraftStore.all(requestID: r.id, on: db, logger: logger)
    }

    public func refresh(token: String, csrf: String) async throws -> Bool {
        guard case .expired(let link, let r) = try await view(token: token) else { return false }
        try PageLinks.requireCSRF(csrf, of: link)
        try await LinkRefresher(db: db, time: time, logger: logger, outbox: outbox, sla: sla).send(replacing: link, for: r)
        return true
    }
}
