import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/sign-off/{token}`: the page a sign-off owner reaches from their email. GET shows, POST decides
/// (with the link's CSRF token); an expired link offers a fresh one by email (rate limited).
struct SignOffPages {
    let service: SignOffService
    let pages: PageRenderer

    func register(_ r: PageRoutes) {
        r.on(.get, "/sign-off/:token") { _, context in
            try await render(token: context.parameters.get("token") ?? "", submitted: nil)
        }
        r.on(.post, "/sign-off/:token") { request, context in
            let token = context.parameters.get("token") ?? ""
            let form = try await request.formBody(context: context)
            let approve: Bool? = form["decision"] == "approve" ? true : form["decision"] == "changes" ? false : nil
            do {
                let after = try await service.decide(
                    token: token, csrf: form["csrf"] ?? "", shownVersion: form["version"].flatMap { Int($0) },
                    approve: approve, reason: form["reason"] ?? "")
                return page(after, token: token, submitted: nil, justDecided: true)
            } catch SignOffService.Failure.changed {
                return try await render(
                    token: token,
                    submitted: (
                        form,
                        [
                            FieldError(
                                pointer: "decision",
                                message: "The details changed while you were reading them: check them again, then send your decision")
                        ]
                    ))
            } catch let e as ServiceError {
                return pages.message("Your decision was not recorded", [Problem.from(e).detail], status: Problem.from(e).status)
            } catch SignOffService.Failure.invalid(let errors) {
                return try await render(token: token, submitted: (form, errors))
            } catch let r as LinkRefusal {
                return pages.refusal(r, advice: "Open the link in your email again and send your decision from there.")
            }
        }
        r.linkRefresh(
            "sign-off", pages: pages,
            refresh: { try await service.refresh(token: $0, csrf: $1) },
            otherwise: { try await render(token: $0, submitted: nil) })
    }

    private func render(token: String, submitted: ([String: String], [FieldError])?) async throws -> Response {
        do {
            return page(try await service.view(token: token), token: token, submitted: submitted, justDecided: false)
        } catch LinkRefusal.unknownLink {
            return pages.notFound()
        }
    }

    private func page(_ view: SignOffService.View, token: String, submitted: ([String: String], [FieldError])?, justDecided: Bool) -> Response {
        switch view {
        case .open(let link, let r, let changed):
            let c = r.checklist
            var details: [[String: String]] = [
                ["key": "Department", "value": r.department],
                ["key": "Service", "value": c.serviceName ?? "Not given yet"],
            ]
            if let d = c[.service].value?["description"]?.stringValue { details.append(["key": "Description", "value": d]) }
            details.append(["key": "Service contact", "value": c.contactEmail ?? "Not given yet"])
            for item in r.kind.requiredItems where ![.contact, .signOffContact, .service].contains(item) {
                let status = c[item]
                let value: String
                switch status.status {
                case .provided: value = "Provided"
                case .notAvailable: value = "Not available: " + (status.reason ?? "")
                case .missing: value = "Not provided yet"
                }
                details.append(["key": item.title, "value": value])
            }
            var context: [String: Any] = [
                "title": "Approve the \(c.serviceName ?? "") dashboard", "department": r.department, "service_name": c.serviceName ?? "your service",
                "details": details, "token": token, "csrf": link.csrf, "email": link.email, "version": r.version,
                "expires": "the end of " + London.date(of: link.expiresAt.addingTimeInterval(-1)).longText,
                "has_changes": !changed.isEmpty, "changes": changed.joined(separator: ", "),
            ]
            if let p = r.previewURL { context["preview_url"] = p }
            if let (form, errors) = submitted {
                context["has_errors"] = true
                context["errors"] = errors.map { ["field": $0.pointer, "message": $0.message] }
                context["decision_error"] = errors.first { $0.pointer == "decision" }?.message
                context["reason_error"] = errors.first { $0.pointer == "reason" }?.message
                context["reason"] = form["reason"] ?? ""
                context["approve_checked"] = form["decision"] == "approve"
                context["changes_checked"] = form["decision"] == "changes"
            }
            return pages.page("sign_off", context, status: submitted == nil ? .ok : .unprocessableContent)
        case .decided(let r, let decision, let by, let at):
            let service = r.checklist.serviceName ?? "the"
            let what = decision == .approved ? "approved" : "sent back for changes"
            if justDecided {
                return pages.message(
                    decision == .approved ? "Dashboard approved" : "Changes requested",
                    ["We have told the GOV.UK Performance Platform team. You do not need to do anything else."],
                    panel: true, panelBody: "\(service) dashboard")
            }
            return pages.message(
                "This dashboard has already been decided",
                ["The \(service) dashboard was \(what) by \(by) on \(London.date(of: at).longText)."])
        case .expired(let link, let r):
            return pages.message(
                "This link has expired",
                [
                    "Links to approve a dashboard work for 5 working days. This one, for the \(r.checklist.serviceName ?? "") dashboard, has expired.",
                    "We can email a new link to \(link.email).",
                ], refresh: ("/sign-off/\(token)/refresh", link.csrf), status: .gone)
        case .closed(let r):
            return pages.message(
                "There is nothing to decide",
                [
                    "The \(r.checklist.serviceName ?? "") dashboard is no longer waiting for sign-off (it is \(r.state.title.lowercased()))."
                ])
        }
    }
}
