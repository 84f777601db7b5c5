import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/staff/emails…`: the outbox (filtered, newest first), one email with its attempts, retry and
/// cancel, and the suppression list. Anyone signed in reads; changes need `.manageEmails`.
extension StaffPages {
    static let emailPageSize = 50

    func registerEmails(_ r: PageRoutes) {
        r.on(.get, "/staff/emails") { request, _ in
            try await signedIn(request) { who, csrf in try await emailList(request, who, csrf) }
        }
        r.on(.get, "/staff/emails/suppressions") { request, _ in
            try await signedIn(request) { who, csrf in
                try await suppressionsPage(who, csrf, errors: [], notice: FormQuery(request.uri).get("notice") == "removed")
            }
        }
        r.on(.post, "/staff/emails/suppressions/remove") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard csrfMatches(form, csrf) else { return forbiddenForm() }
                do {
                    try await emails.unsuppress(Self.text(form["address"]), by: who)
                } catch ServiceError.notFound {
                    // Removed meanwhile (another tab, another person): say so on the list.
                    return try await suppressionsPage(
                        who, csrf, errors: [("main-content", "That address is not on the suppression list.")], notice: false, status: .notFound)
                }
                return pages.redirect("/staff/emails/suppressions?notice=removed")
            }
        }
        r.on(.get, "/staff/emails/:id") { request, context in
            try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id") else { return notFound() }
                return try await emailPage(id, who, csrf, errors: [], notice: FormQuery(request.uri).get("notice"))
            }
        }
        for action in ["retry", "cancel"] {
            r.on(.post, "/staff/emails/:id/\(action)") { request, context in
                let form = try await request.formBody(context: context)
                return try await signedIn(request) { who, csrf in
                    guard let id = uuid(context, "id") else { return notFound() }
                    guard csrfMatches(form, csrf) else { return forbiddenForm() }
                    if let e = try await attempt({
                        _ = action == "retry" ? try await emails.retry(id, by: who) : try await emails.cancel(id, by: who)
                    }) {
                        return try await emailPage(id, who, csrf, errors: Self.summary(e), notice: nil, status: Problem.from(e).status)
                    }
                    return pages.redirect("/staff/emails/\(id.lowercasedString)?notice=\(action)")
                }
            }
        }
    }

    private func emailList(_ request: Request, _ who: Principal, _ csrf: String) async throws -> Response {
        let q = FormQuery(request.uri)
        var filter = EmailStore.Filter()
        filter.status = q.get("status").flatMap(EmailStatus.init(rawValue:))
        filter.kind = q.get("kind").flatMap(EmailKind.init(rawValue:))?.rawValue
        let recipient = Self.text(q.get("recipient"))
        if !recipient.isEmpty { filter.recipient = recipient }
        let requestID = Self.text(q.get("request_id"))
        var errors: [(field: String, message: String)] = []
        if !requestID.isEmpty {
            filter.requestID = UUID(uuidString: requestID)
            if filter.requestID == nil { errors.append(("request_id", "Enter a request id, like 3f2b8c1e-0000-4000-8000-000000000000")) }
        }
        var context = base(who, csrf, title: "Emails")
        context.merge(Self.summary(errors)) { $1 }
        context["statuses"] = EmailStatus.allCases.map {
            ["value": $0.rawValue, "text": $0.rawValue.capitalizedFirst, "selected": filter.status == $0] as [String: Any]
        }
        context["kinds"] = EmailKind.allCases.map {
            ["value": $0.rawValue, "text": Self.words($0.rawValue), "selected": filter.kind == $0.rawValue] as [String: Any]
        }
        context["recipient"] = recipient
        context["request_id"] = requestID
        if !errors.isEmpty {
            context["request_id_error"] = errors[0].message
            return pages.page("staff_emails", context, status: .unprocessableContent)
        }
        let page = try await emails.list(filter, cursor: q.get("cursor").flatMap(ListCursor.init(encoded:)), limit: Self.emailPageSize, by: who)
        context["rows"] = page.emails.map { e -> [String: Any] in
            [
                "id": e.id.lowercasedString, "created": London.dateTimeText(e.createdAt), "kind": Self.words(e.kind), "recipient": e.recipient,
                "subject": e.subject, "status": e.status.rawValue.capitalizedFirst, "tag": Self.tag(e.status),
            ]
        }
        if let next = page.next {
            context["next"] = Self.link(
                "/staff/emails", q.pairs.map { ($0.key, $0.value) }.filter { $0.0 != "cursor" } + [("cursor", next.encoded)])
        }
        return pages.page("staff_emails", context)
    }

    private func emailPage(
        _ id: UUID, _ who: Principal, _ csrf: String, errors: [(field: String, message: String)], notice: String?,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let (e, attempts, bodyVisible) = try await emails.get(id, by: who)
        var context = base(who, csrf, title: e.subject)
        context.merge(Self.summary(errors)) { $1 }
        context["id"] = e.id.lowercasedString
        context["kind"] = Self.words(e.kind)
        context["recipient"] = e.recipient
        context["subject"] = e.subject
        context["status"] = e.status.rawValue.capitalizedFirst
        context["tag"] = Self.tag(e.status)
        context.put("request_id", e.requestID?.lowercasedString)
        context["created"] = London.dateTimeText(e.createdAt)
        context["run_at"] = London.dateTimeText(e.runAt)
        context.put("sent_at", e.sentAt.map(London.dateTimeText))
        context["attempt_count"] = "\(e.attempts) of \(e.maxAttempts)"
        context.put("last_error", e.lastError)
        context["message_id"] = e.messageID
        context["attempts"] = attempts.map { a -> [String: Any] in
            [
                "attempt": a.attempt, "worker": a.worker, "started": London.dateTimeText(a.startedAt),
                "finished": a.finishedAt.map(London.dateTimeText) ?? "Not finished", "outcome": a.outcome ?? "", "error": a.error ?? "",
            ]
        }
        if bodyVisible { context["body"] = e.bodyText } else { context["body_hidden"] = true }
        // The same states the outbox accepts; a refusal (it changed meanwhile) shows as an error.
        let manage = who.allows(.manageEmails)
        context["can_retry"] = manage && [.failed, .dead, .cancelled].contains(e.status)
        context["can_cancel"] = manage && [.queued, .failed, .dead].contains(e.status)
        switch notice {
        case "retry": context["notice"] = "The email is queued again."
        case "cancel": context["notice"] = "The email is cancelled."
        default: break
        }
        return pages.page("staff_email", context, status: status)
    }

    private func suppressionsPage(
        _ who: Principal, _ csrf: String, errors: [(field: String, message: String)], notice: Bool, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let list = try await emails.suppressions(by: who)
        var context = base(who, csrf, title: "Suppressed addresses")
        context.merge(Self.summary(errors)) { $1 }
        context["can_remove"] = who.allows(.manageEmails)
        context["rows"] = list.map { ["address": $0.address, "reason": $0.reason, "added": London.dateTimeText($0.createdAt)] }
        if notice { context["notice"] = "The address is no longer suppressed." }
        return pages.page("staff_suppressions", context, status: status)
    }

    /// `upload_invitation` → "Upload invitation".
    static func words(_ raw: String) -> String { raw.replacingOccurrences(of: "_", with: " ").capitalizedFirst }

    static func tag(_ s: EmailStatus) -> String {
        switch s {
        case .sent: return "tag-green"
        case .queued, .sending: return "tag-blue"
        case .failed: return "tag-yellow"
        case .dead: return "tag-red"
        case .cancelled, .suppressed: return "tag-grey"
        }
    }
}
