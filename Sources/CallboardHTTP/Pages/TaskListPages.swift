import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/tasks/{token}`: the service contact's task list, one form per item, and check-your-answers.
struct TaskListPages {
    let service: TaskListService
    let sla: PreviewSLAHolder
    let pages: PageRenderer

    func register(_ r: PageRoutes) {
        r.on(.get, "/tasks/:token") { _, context in
            let token = context.parameters.get("token") ?? ""
            return try await withOpen(token) { link, record in taskList(token, link, record, drafts: try await service.drafts(record)) }
        }
        r.on(.get, "/tasks/:token/check") { _, context in
            let token = context.parameters.get("token") ?? ""
            return try await withOpen(token) { _, record in checkAnswers(token, record) }
        }
        r.on(.get, "/tasks/:token/items/:item") { _, context in
            let token = context.parameters.get("token") ?? ""
            guard let item = context.parameters.get("item").flatMap(ItemName.init(rawValue:)) else { return pages.notFound() }
            return try await withOpen(token) { link, record in
                let draft = try await service.drafts(record)[item]
                return form(token, link, record, item, values: draft ?? ItemForms.values(item, record.checklist[item]), errors: [])
            }
        }
        r.on(.post, "/tasks/:token/items/:item") { request, context in
            let token = context.parameters.get("token") ?? ""
            guard let item = context.parameters.get("item").flatMap(ItemName.init(rawValue:)) else { return pages.notFound() }
            let submitted = try await request.formBody(context: context)
            do {
                if submitted["action"] == "add_row" {
                    // "Add another": the same form with one more blank row, nothing kept yet.
                    var more = ItemForms.normalised(item, submitted)
                    more["rows"] = String(ItemForms.rowCount(item, more) + 1)
                    return try await withOpen(token) { link, record in form(token, link, record, item, values: more, errors: []) }
                }
                if submitted["action"] == "draft" {
                    try await service.saveDraft(
                        token: token, csrf: submitted["csrf"] ?? "", item: item, answers: ItemForms.normalised(item, submitted))
                    return pages.redirect("/tasks/\(token)")
                }
                let after = try await service.save(token: token, csrf: submitted["csrf"] ?? "", item: item, ItemForms.json(item, form: submitted))
                let done = after.checklist.isComplete(for: after.kind)
                return pages.redirect("/tasks/\(token)" + (done ? "/check" : ""))
            } catch TaskListService.Failure.invalid(let errors) {
                return try await withOpen(token) { link, record in
                    form(token, link, record, item, values: submitted, errors: errors)
                }
            } catch LinkRefusal.badCSRF {
                return pages.formExpired("Open the link in your email again and enter the information from there.")
            } catch let e as ServiceError {
                return pages.message(
                    "Your answer was not saved", [Problem.from(e).detail, "Go back to the task list and try again."],
                    status: Problem.from(e).status)
            } catch LinkRefusal.unknownLink {
                return try await withOpen(token) { link, record in taskList(token, link, record, drafts: [:]) }
            }
        }
        r.linkRefresh(
            "tasks", pages: pages,
            refresh: { try await service.refresh(token: $0, csrf: $1) },
            otherwise: { token in try await withOpen(token) { link, record in taskList(token, link, record, drafts: [:]) } })
    }

    /// Runs `body` for a link that is open; otherwise the expired, closed or not-found page.
    private func withOpen(_ token: String, _ body: (LinkRecord, RequestRecord) async throws -> Response) async throws -> Response {
        let view: TaskListService.View
        do { view = try await service.view(token: token) } catch LinkRefusal.unknownLink { return pages.notFound() }
        switch view {
        case .open(let link, let record): return try await body(link, record)
        case .expired(let link, let r):
            return pages.message(
                "This link has expired",
                [
                    "Links to give information for the \(r.checklist.serviceName ?? "") dashboard work for 30 days. This one has expired.",
                    "We can email a new link to \(link.email).",
                ], refresh: ("/tasks/\(token)/refresh", link.csrf), status: .gone)
        case .closed(let r):
            return pages.message(
                "This request has been withdrawn",
                ["The \(r.checklist.serviceName ?? "") dashboard request is closed. There is nothing more to give."])
        }
    }

    private func status(_ i: ChecklistItem, drafted: Bool = false) -> (String, String) {
        switch i.status {
        case .missing: return drafted ? ("In progress", "tag-blue") : ("Not started", "tag-grey")
        case .provided: return ("Completed", "tag-green")
        case .notAvailable: return ("Cannot provide", "tag-yellow")
        }
    }

    private func taskList(_ token: String, _ link: LinkRecord, _ r: RequestRecord, drafts: [ItemName: [String: String]]) -> Response {
        let items = r.kind.requiredItems
        let tasks: [[String: Any]] = items.map { item in
            let (s, c) = status(r.checklist[item], drafted: drafts[item] != nil)
            return ["name": item.rawValue, "title": item.title, "status": s, "tag_class": c, "token": token]
        }
        var context: [String: Any] = [
            "title": "Information for the \(r.checklist.serviceName ?? "your service") dashboard",
            "service_name": r.checklist.serviceName ?? "your service",
            "department": r.department, "tasks": tasks, "token": token, "email": link.email, "total": items.count,
            "done": items.filter { r.checklist[$0].status != .missing }.count,
            "expires": London.date(of: link.expiresAt).longText, "complete": r.checklist.isComplete(for: r.kind),
        ]
        if let s = r.sla { context["due"] = London.date(of: s.dueAt.addingTimeInterval(-1)).longText }
        return pages.page("task_list", context)
    }

    private func form(
        _ token: String, _ link: LinkRecord, _ r: RequestRecord, _ item: ItemName, values shown: [String: String],
        errors: [FieldError]
    ) -> Response {
        let values = ItemForms.normalised(item, shown)
        let (fields, fieldErrors, summary) = ItemForms.render(item, values: values, errors: errors)
        var context: [String: Any] = [
            "title": item.title, "item_title": item.title, "name": item.rawValue, "token": token, "csrf": link.csrf,
            "action": "/tasks/\(token)/items/\(item.rawValue)", "back": "/tasks/\(token)", "back_text": "Back to the task list",
            "draft_button": true,
            "service_name": r.checklist.serviceName ?? "Your service", "fields": fields, "may_be_unavailable": item.mayBeUnavailable,
            "not_available": values["availability"] == "not_available", "reason": values["reason"] ?? "",
            "has_errors": !summary.isEmpty, "errors": summary,
        ]
        if let e = fieldErrors["reason"] { context["reason_error"] = e }
        return pages.page("item_form", context, status: errors.isEmpty ? .ok : .unprocessableContent)
    }

    private func checkAnswers(_ token: String, _ r: RequestRecord) -> Response {
        let sections: [[String: Any]] = r.kind.requiredItems.map { item in
            let stored = r.checklist[item]
            let values = ItemForms.values(item, stored)
            var rows: [[String: String]] = []
            if stored.status == .provided {
                for f in ItemForms.fields(item, rows: ItemForms.rowCount(item, values)) {
                    guard let v = values[f.id], !v.isEmpty else { continue }
                    rows.append(["key": f.label, "value": { if case .checkbox = f.kind { return "Yes" } else { return v } }()])
                }
            } else if stored.status == .notAvailable {
                rows.append(["key": "Why not", "value": stored.reason ?? ""])
            }
            return ["title": item.title, "name": item.rawValue, "token": token, "rows": rows, "status": status(stored).0]
        }
        return pages.page("check_answers", ["title": "Check your answers", "token": token, "sections": sections])
    }
}
