import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/staff/requests/new`, `/staff/requests/{id}/edit` and `/staff/requests/{id}/items/{item}`:
/// the team creates and edits requests with the forms the front door and the task list use, posted
/// through `RequestService` as the API's JSON (so the API's validation and permissions apply).
/// An edit carries the version it was shown: a stale one shows what changed and keeps the input.
extension StaffPages {
    static let newRequestItems: [ItemName] = [.contact, .signOffContact, .service]

    static func requestFields(creating: Bool) -> [ItemForms.Field] {
        var fields = [
            ItemForms.Field(
                id: "kind", label: "Kind of service", kind: .radios([("transactional", "Transactional"), ("non_transactional", "Non-transactional")])),
            ItemForms.Field(id: "department", label: "Department or agency"),
            ItemForms.Field(
                id: "division", label: "Bank holidays the service's team keeps",
                kind: .radios(Division.allCases.map { ($0.rawValue, $0.title) })),
            ItemForms.Field(
                id: "assignee", label: "Assignee", hint: "A staff member's email address; empty for nobody", kind: .email, optional: true),
            ItemForms.Field(id: "assign_to_me", label: "Assign to me", kind: .checkbox, optional: true),
            ItemForms.Field(id: "notes", label: "Notes", kind: .textarea, optional: true),
        ]
        if creating { fields[3].hint = "A staff member's email address" }
        return fields
    }

    func registerRequestForms(_ r: PageRoutes) {
        r.on(.get, "/staff/requests/new") { request, _ in
            try await signedIn(request) { who, csrf in
                try who.require(.createRequest)
                return requestForm(who, csrf, record: nil, values: ["division": Division.englandAndWales.rawValue], errors: [])
            }
        }
        r.on(.post, "/staff/requests/new") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard StaffService.constantTimeEquals(Array((form["csrf"] ?? "").utf8), Array(csrf.utf8)) else { return forbiddenForm() }
                do {
                    let created = try await requests.create(.object(Self.requestJSON(form, who: who, creating: true)), by: who)
                    return pages.redirect("/staff/requests/\(created.id.lowercasedString)?notice=created")
                } catch ServiceError.validation(let errors) {
                    return requestForm(who, csrf, record: nil, values: form, errors: errors)
                }
            }
        }
        r.on(.get, "/staff/requests/:id/edit") { request, context in
            try await signedIn(request) { who, csrf in
                guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else { return notFound() }
                try who.require(.updateRequest)
                let record = try await requests.get(id, by: who)
                return requestForm(who, csrf, record: record, values: Self.values(record), errors: [])
            }
        }
        r.on(.post, "/staff/requests/:id/edit") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else { return notFound() }
                guard StaffService.constantTimeEquals(Array((form["csrf"] ?? "").utf8), Array(csrf.utf8)) else { return forbiddenForm() }
                let shown = Int(form["version"] ?? "") ?? 0
                do {
                    let before = try await requests.get(id, by: who)
                    // Only what the form changes is sent: an unchanged field is not an edit.
                    let body = Self.changes(Self.requestJSON(form, who: who, creating: false), from: before)
                    if body.isEmpty { return pages.redirect("/staff/requests/\(id.lowercasedString)") }
                    _ = try await requests.update(id, .object(body), expectedVersion: shown, by: who)
                    return pages.redirect("/staff/requests/\(id.lowercasedString)?notice=updated")
                } catch ServiceError.validation(let errors) {
                    return requestForm(who, csrf, record: try await requests.get(id, by: who), values: form, errors: errors, version: shown)
                } catch ServiceError.stale {
                    let now = try await requests.get(id, by: who)
                    return requestForm(
                        who, csrf, record: now, values: form, errors: [], version: now.version, changed: try await changedSince(shown, now, who))
                } catch ServiceError.conflict(let why) {
                    return requestForm(
                        who, csrf, record: try await requests.get(id, by: who), values: form,
                        errors: [FieldError(pointer: "", message: why)], version: shown)
                }
            }
        }
    }

    func registerItemForms(_ r: PageRoutes) {
        r.on(.get, "/staff/requests/:id/items/:item") { request, context in
            try await signedIn(request) { who, csrf in
                guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
                    let item = context.parameters.get("item").flatMap(ItemName.init(rawValue:))
                else { return notFound() }
                try who.require(.updateRequest)
                let record = try await requests.get(id, by: who)
                return itemForm(who, csrf, record, item, values: ItemForms.values(item, record.checklist[item]), errors: [], version: record.version)
            }
        }
        r.on(.post, "/staff/requests/:id/items/:item") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
                    let item = context.parameters.get("item").flatMap(ItemName.init(rawValue:))
                else { return notFound() }
                guard StaffService.constantTimeEquals(Array((form["csrf"] ?? "").utf8), Array(csrf.utf8)) else { return forbiddenForm() }
                let shown = Int(form["version"] ?? "") ?? 0
                let record = try await requests.get(id, by: who)
                if form["action"] == "add_row" {
                    var more = ItemForms.normalised(item, form)
                    more["rows"] = String(ItemForms.rowCount(item, more) + 1)
                    return itemForm(who, csrf, record, item, values: more, errors: [], version: shown)
                }
                do {
                    _ = try await requests.update(
                        id, .object(["items": .object([item.rawValue: ItemForms.json(item, form: form)])]), expectedVersion: shown, by: who)
                    return pages.redirect("/staff/requests/\(id.lowercasedString)?notice=updated")
                } catch ServiceError.validation(let errors) {
                    return itemForm(who, csrf, record, item, values: form, errors: errors, version: shown)
                } catch ServiceError.stale {
                    return itemForm(
                        who, csrf, record, item, values: form, errors: [], version: record.version,
                        changed: try await changedSince(shown, record, who))
                } catch ServiceError.conflict(let why) {
                    return itemForm(who, csrf, record, item, values: form, errors: [FieldError(pointer: "", message: why)], version: shown)
                }
            }
        }
    }

    private func itemForm(
        _ who: Principal, _ csrf: String, _ r: RequestRecord, _ item: ItemName, values shown: [String: String], errors: [FieldError],
        version: Int, changed: [String] = []
    ) -> Response {
        let values = ItemForms.normalised(item, shown)
        let (fields, fieldErrors, summary) = ItemForms.render(item, values: values, errors: errors)
        var c = base(who, csrf, title: item.title)
        c.merge(
            [
                "item_title": item.title, "service_name": r.checklist.serviceName ?? "Request", "csrf": csrf, "version": version,
                "action": "/staff/requests/\(r.id.lowercasedString)/items/\(item.rawValue)", "back": "/staff/requests/\(r.id.lowercasedString)",
                "back_text": "Back to the request", "fields": fields, "may_be_unavailable": item.mayBeUnavailable,
                "not_available": values["availability"] == "not_available", "reason": values["reason"] ?? "",
                "has_errors": !summary.isEmpty, "errors": summary,
            ]
        ) { $1 }
        if let e = fieldErrors["reason"] { c["reason_error"] = e }
        if !changed.isEmpty {
            c["stale"] = true
            c["changed"] = changed
        }
        return pages.page("item_form", c, status: !errors.isEmpty ? .unprocessableContent : changed.isEmpty ? .ok : .conflict)
    }

    /// What changed since `version`: the names of the fields and transitions of the events after it.
    private func changedSince(_ version: Int, _ r: RequestRecord, _ who: Principal) async throws -> [String] {
        let events = try await requests.newestEvents(of: r, beforeID: nil, limit: 50, by: who).events.filter { $0.version > version }
        var out: [String] = []
        for e in events.reversed() {
            let by = e.actorID.map { " by \($0)" } ?? ""
            switch e.kind {
            case "updated":
                let fields = (e.data["changes"]?.objectValue ?? [:]).keys.sorted().map { $0.replacingOccurrences(of: "_", with: " ") }
                out.append("Changed \(fields.joined(separator: ", "))\(by), \(London.dateTimeText(e.occurredAt))")
            case "transitioned":
                let t = (e.data["transition"]?.stringValue ?? "").replacingOccurrences(of: "_", with: " ")
                out.append("\(t.capitalizedFirst)\(by), \(London.dateTimeText(e.occurredAt))")
            default: continue
            }
        }
        return out
    }

    /// The form's request fields (and, when creating, the contacts and the service) as the API's JSON.
    static func requestJSON(_ form: [String: String], who: Principal, creating: Bool) -> [String: JSONValue] {
        func text(_ k: String) -> String { (form[k] ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }
        var body: [String: JSONValue] = [:]
        for k in ["kind", "department", "division"] where creating || !text(k).isEmpty { body[k] = text(k).isEmpty ? .null : .string(text(k)) }
        if creating, body["kind"] == .null { body["kind"] = nil }
        if creating, body["department"] == .null { body["department"] = nil }
        if creating, body["division"] == .null { body["division"] = nil }
        let assignee = form["assign_to_me"] != nil ? (who.email ?? "") : text("assignee")
        if !assignee.isEmpty {
            body["assignee"] = .string(assignee)
        } else if !creating {
            body["assignee"] = .null
        }
        if !creating || !text("notes").isEmpty { body["notes"] = .string(form["notes"] ?? "") }
        if creating {
            var items: [String: JSONValue] = [:]
            for item in newRequestItems {
                let own = Self.unprefixed(form, item)
                if own.values.contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                    items[item.rawValue] = ItemForms.json(item, form: own)
                }
            }
            if !items.isEmpty { body["items"] = .object(items) }
        }
        return body
    }

    /// `body` without what already holds: PATCH sends only changes.
    static func changes(_ body: [String: JSONValue], from r: RequestRecord) -> [String: JSONValue] {
        body.filter { key, value in
            switch key {
            case "kind": return value.stringValue != r.kind.rawValue
            case "department": return value.stringValue != r.department
            case "division": return value.stringValue != r.division
            case "assignee": return value.stringValue?.lowercased() != r.assigneeEmail?.lowercased()
            case "notes": return value.stringValue != r.notes
            default: return true
            }
        }
    }

    static func values(_ r: RequestRecord) -> [String: String] {
        ["kind": r.kind.rawValue, "department": r.department, "division": r.division, "assignee": r.assigneeEmail ?? "", "notes": r.notes]
    }

    /// One item's fields of the new-request form, their ids prefixed with the item (`contact-email`).
    static func unprefixed(_ form: [String: String], _ item: ItemName) -> [String: String] {
        let prefix = "\(item.rawValue)-"
        return Dictionary(
            uniqueKeysWithValues: form.compactMap { $0.key.hasPrefix(prefix) ? (String($0.key.dropFirst(prefix.count)), $0.value) : nil })
    }

    private func requestForm(
        _ who: Principal, _ csrf: String, record: RequestRecord?, values: [String: String], errors: [FieldError], version: Int? = nil,
        changed: [String] = []
    ) -> Response {
        var summary: [[String: String]] = []
        var fieldErrors: [String: String] = [:]
        var itemErrors: [ItemName: [FieldError]] = [:]
        for e in errors {
            let parts = e.pointer.split(separator: "/").map(String.init)
            if parts.first == "items", parts.count > 1, let item = ItemName(rawValue: parts[1]) {
                itemErrors[item, default: []].append(e)
                continue
            }
            let id = parts.first ?? "department"
            let label = Self.requestFields(creating: true).first { $0.id == id }?.label ?? "This request"
            let message = e.message == "is required" ? "Enter \(label.lowercased())" : "\(label) \(e.message)"
            if fieldErrors[id] == nil { fieldErrors[id] = message }
            summary.append(["field": e.pointer.isEmpty ? "main-content" : id, "message": message])
        }
        let fields = Self.requestFields(creating: record == nil).map { ItemForms.context($0, values: values, error: fieldErrors[$0.id]) }
        var sections: [[String: Any]] = []
        if record == nil {
            for item in Self.newRequestItems {
                let own = ItemForms.normalised(item, Self.unprefixed(values, item))
                let rendered = ItemForms.render(item, values: own, errors: itemErrors[item] ?? [])
                let prefix = "\(item.rawValue)-"
                let prefixed = rendered.fields.map { f -> [String: Any] in
                    var f = f
                    f["id"] = prefix + (f["id"] as? String ?? "")
                    if let d = f["described"] as? String { f["described"] = d.split(separator: " ").map { prefix + $0 }.joined(separator: " ") }
                    return f
                }
                summary += rendered.summary.map { ["field": prefix + ($0["field"] ?? ""), "message": "\(item.title): \($0["message"] ?? "")"] }
                sections.append(["title": item.title, "fields": prefixed])
            }
        }
        var c = base(who, csrf, title: record.map { "Edit \($0.checklist.serviceName ?? "request")" } ?? "New request")
        c["fields"] = fields
        c["sections"] = sections
        c["action"] = record.map { "/staff/requests/\($0.id.lowercasedString)/edit" } ?? "/staff/requests/new"
        c["back"] = record.map { "/staff/requests/\($0.id.lowercasedString)" } ?? "/staff"
        if let record { c["version"] = version ?? record.version }
        c["has_errors"] = !summary.isEmpty
        c["errors"] = summary
        if !changed.isEmpty {
            c["changed"] = changed
            c["stale"] = true
        }
        let status: HTTPResponse.Status = !errors.isEmpty ? .unprocessableContent : changed.isEmpty ? .ok : .conflict
        return pages.page("staff_request_form", c, status: status)
    }
}
