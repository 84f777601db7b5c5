import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/staff/admin/webhooks…`: webhook subscriptions (admin only: the service refuses others, and
/// `signedIn` answers that with its 403 page). A new subscription's signing secret is shown once,
/// on the answer to the form.
extension StaffPages {
    func registerWebhooks(_ r: PageRoutes) {
        r.on(.get, "/staff/admin/webhooks") { request, _ in
            try await signedIn(request) { who, csrf in
                try await webhooksPage(who, csrf, notice: FormQuery(request.uri).get("notice"))
            }
        }
        r.on(.post, "/staff/admin/webhooks") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard csrfMatches(form, csrf) else { return forbiddenForm() }
                let url = Self.text(form["url"])
                let description = Self.text(form["description"])
                let types = WebhookEventType.allCases.filter { form[Self.checkboxName($0)] == "yes" }
                var body: [String: JSONValue] = ["event_types": .array(types.map { .string($0.rawValue) })]
                if !url.isEmpty { body["url"] = .string(url) }
                if !description.isEmpty { body["description"] = .string(description) }
                var created: (WebhookSubscription, secret: String)?
                if let e = try await attempt({ created = try await webhooks.create(.object(body), by: who) }) {
                    let errors = Self.fieldMessages(e).map { pointer, message -> (String, String) in
                        if pointer == "/url" { return ("url", message == "is required" ? "Enter the URL to send events to" : "URL \(message)") }
                        if pointer.hasPrefix("/event_types") { return ("event_types", "Choose at least one event") }
                        if pointer == "/description" { return ("description", "Description \(message)") }
                        return ("url", message)
                    }
                    return try await webhooksPage(
                        who, csrf, url: url, description: description, types: types, errors: errors, status: Problem.from(e).status)
                }
                guard let created else { return notFound() }
                var page = base(who, csrf, title: "Webhook created")
                page["secret"] = created.secret
                page["id"] = created.0.id.lowercasedString
                return pages.page("staff_webhook_created", page)
            }
        }
        r.on(.get, "/staff/admin/webhooks/:id") { request, context in
            try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id") else { return notFound() }
                return try await webhookPage(id, who, csrf, notice: FormQuery(request.uri).get("notice"))
            }
        }
        for (action, enabled) in [("enable", true), ("disable", false)] {
            r.on(.post, "/staff/admin/webhooks/:id/\(action)") { request, context in
                let form = try await request.formBody(context: context)
                return try await signedIn(request) { who, csrf in
                    guard let id = uuid(context, "id") else { return notFound() }
                    guard csrfMatches(form, csrf) else { return forbiddenForm() }
                    _ = try await webhooks.setEnabled(id, enabled, by: who)
                    return pages.redirect("/staff/admin/webhooks/\(id.lowercasedString)?notice=\(action)d")
                }
            }
        }
        r.on(.post, "/staff/admin/webhooks/:id/delete") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id") else { return notFound() }
                guard csrfMatches(form, csrf) else { return forbiddenForm() }
                try await webhooks.delete(id, by: who)
                return pages.redirect("/staff/admin/webhooks?notice=deleted")
            }
        }
        r.on(.post, "/staff/admin/webhooks/:id/deliveries/:delivery_id/replay") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id"), let delivery = uuid(context, "delivery_id") else { return notFound() }
                guard csrfMatches(form, csrf) else { return forbiddenForm() }
                if let e = try await attempt({ _ = try await webhooks.replay(id, delivery: delivery, by: who) }) {
                    return try await webhookPage(id, who, csrf, errors: Self.summary(e), status: Problem.from(e).status)
                }
                return pages.redirect("/staff/admin/webhooks/\(id.lowercasedString)?notice=replayed")
            }
        }
    }

    static func checkboxName(_ t: WebhookEventType) -> String { "event_" + t.rawValue.replacingOccurrences(of: ".", with: "_") }

    static let eventHints: [WebhookEventType: String] = [
        .requestCreated: "A dashboard request was made",
        .requestTransitioned: "A request moved to another state",
        .requestUpdated: "A request's fields changed (the names of the fields, never their values)",
        .emailDead: "An email ran out of attempts",
        .uploadReceived: "Data arrived for a data set (API, CSV page or recorded by staff)",
        .promiseBreached: "A preview promise was broken",
    ]

    private func webhooksPage(
        _ who: Principal, _ csrf: String, notice: String? = nil, url: String = "", description: String = "", types: [WebhookEventType] = [],
        errors: [(field: String, message: String)] = [], status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let list = try await webhooks.list(by: who)
        var context = base(who, csrf, title: "Webhooks")
        context.merge(Self.summary(errors)) { $1 }
        context["rows"] = list.map { s -> [String: Any] in
            [
                "id": s.id.lowercasedString, "url": s.url, "description": s.description.isEmpty ? "—" : s.description,
                "events": s.eventTypes.map(\.rawValue).joined(separator: ", "), "state": s.enabled ? "Enabled" : "Disabled",
                "tag": s.enabled ? "tag-green" : "tag-grey", "created": London.dateTimeText(s.createdAt),
            ]
        }
        context["url"] = url
        context["description"] = description
        context["events"] = WebhookEventType.allCases.map { t -> [String: Any] in
            ["id": Self.checkboxName(t), "label": t.rawValue, "hint": Self.eventHints[t] ?? "", "checked": types.contains(t)]
        }
        for (field, message) in errors.reversed() { context["\(field)_error"] = message }
        context["key_missing"] = webhooks.settings.secretKey == nil
        context["http_allowed"] = webhooks.settings.allowHTTP
        context.put("notice", ["deleted": "Webhook deleted, with its deliveries."][notice ?? ""])
        return pages.page("staff_admin_webhooks", context, status: status)
    }

    private func webhookPage(
        _ id: UUID, _ who: Principal, _ csrf: String, notice: String? = nil, errors: [(field: String, message: String)] = [],
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let s = try await webhooks.get(id, by: who)
        let page = try await webhooks.deliveries(id, cursor: nil, limit: 50, by: who)
        let counts = try await webhooks.counts(id, by: who)
        var context = base(who, csrf, title: "Webhook")
        context.merge(Self.summary(errors)) { $1 }
        context["id"] = s.id.lowercasedString
        context["webhook_id"] = s.id.lowercasedString
        context["url"] = s.url
        context["description"] = s.description.isEmpty ? "—" : s.description
        context["events"] = s.eventTypes.map(\.rawValue).joined(separator: ", ")
        context["enabled"] = s.enabled
        context["state"] = s.enabled ? "Enabled" : "Disabled"
        context["tag"] = s.enabled ? "tag-green" : "tag-grey"
        context.put("disabled_reason", s.disabledReason)
        context["created"] = London.dateTimeText(s.createdAt)
        context["counts"] = WebhookDeliveryStatus.allCases.map { ["status": $0.rawValue.capitalizedFirst, "count": counts[$0] ?? 0] }
        context["deliveries"] = page.deliveries.map { d -> [String: Any] in
            var row: [String: Any] = [
                "id": d.id.lowercasedString, "short_id": String(d.id.lowercasedString.prefix(8)), "event": d.event.type.rawValue,
                "status": d.status.rawValue.capitalizedFirst, "tag": Self.tag(d.status), "created": London.dateTimeText(d.createdAt),
                "attempt_count": "\(d.attempts) of \(d.maxAttempts)", "next": d.status == .queued ? London.dateTimeText(d.runAt) : "—",
                "can_replay": [.delivered, .failed, .dead].contains(d.status),
                "attempts": (page.attempts[d.id] ?? []).map { a -> [String: Any] in
                    [
                        "attempt": a.attempt, "outcome": a.outcome, "code": a.statusCode.map(String.init) ?? "—", "error": a.error ?? "",
                        "duration": a.durationMS.map { "\($0) ms" } ?? "—", "finished": London.dateTimeText(a.finishedAt),
                    ]
                },
            ]
            row.put("last_error", d.lastError)
            return row
        }
        context.put(
            "notice",
            ["enabled": "Webhook enabled.", "disabled": "Webhook disabled: nothing is sent to it.", "replayed": "Delivery queued again."][
                notice ?? ""])
        return pages.page("staff_admin_webhook", context, status: status)
    }

    static func tag(_ s: WebhookDeliveryStatus) -> String {
        switch s {
        case .delivered: return "tag-green"
        case .queued, .sending: return "tag-blue"
        case .failed: return "tag-yellow"
        case .dead: return "tag-red"
        }
    }
}
