import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/staff/emails…` and `/staff/admin…`: the email outbox, and staff and API tokens (admin only:
/// the services refuse others, and `signedIn` answers that with its 403 page).
extension StaffPages {
    func registerAdmin(_ r: PageRoutes) {
        registerEmails(r)
        r.on(.get, "/staff/admin/staff") { request, _ in
            try await signedIn(request) { who, csrf in
                try await staffPage(who, csrf, notice: FormQuery(request.uri).get("notice"))
            }
        }
        r.on(.post, "/staff/admin/staff") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard csrfMatches(form, csrf) else { return forbiddenForm() }
                let values = ["email": Self.text(form["email"]), "name": Self.text(form["name"]), "role": Self.text(form["role"])]
                var body: [String: JSONValue] = [:]
                for (k, v) in values where !v.isEmpty { body[k] = .string(v) }
                if let e = try await attempt({ _ = try await staff.createStaff(.object(body), by: who) }) {
                    return try await staffPage(who, csrf, add: values, failure: e)
                }
                return pages.redirect("/staff/admin/staff?notice=added")
            }
        }
        r.on(.post, "/staff/admin/staff/:id/role") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id") else { return notFound() }
                guard csrfMatches(form, csrf) else { return forbiddenForm() }
                guard let role = StaffRole(rawValue: form["role"] ?? "") else {
                    return try await staffPage(who, csrf, errors: [("role-\(id.lowercasedString)", "Choose a role")], status: .unprocessableContent)
                }
                if let e = try await attempt({ _ = try await staff.changeRole(id, role: role, by: who) }) {
                    return try await staffPage(
                        who, csrf, errors: Self.summary(e, field: "role-\(id.lowercasedString)"), status: Problem.from(e).status)
                }
                return pages.redirect("/staff/admin/staff?notice=role")
            }
        }
        r.on(.post, "/staff/admin/staff/:id/disable") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id") else { return notFound() }
                guard csrfMatches(form, csrf) else { return forbiddenForm() }
                if let e = try await attempt({ _ = try await staff.disableStaff(id, by: who) }) {
                    return try await staffPage(who, csrf, errors: Self.summary(e), status: Problem.from(e).status)
                }
                return pages.redirect("/staff/admin/staff?notice=disabled")
            }
        }
        registerTokens(r)
    }

    // MARK: - Staff

    private func staffPage(
        _ who: Principal, _ csrf: String, notice: String? = nil, errors: [(field: String, message: String)] = [],
        add: [String: String] = [:], failure: ServiceError? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let list = try await staff.listStaff(by: who)
        var context = base(who, csrf, title: "Staff")
        context["rows"] = list.map { s -> [String: Any] in
            let row: [String: Any?] = [
                "id": s.id.lowercasedString, "email": s.email, "name": s.name.isEmpty ? "—" : s.name, "role": s.role.rawValue.capitalizedFirst,
                "created": London.dateTimeText(s.createdAt), "disabled": s.disabledAt.map(London.dateTimeText),
                "can_disable": s.disabledAt == nil && s.id != who.staffID,
                "roles": StaffRole.allCases.map { ["value": $0.rawValue, "text": $0.rawValue.capitalizedFirst, "selected": $0 == s.role] },
            ]
            return row.compactMapValues { $0 }
        }
        // The add form: what was typed, and the service's errors beside each field.
        var summary = errors
        var fieldErrors: [String: String] = [:]
        if let failure {
            for (pointer, message) in Self.fieldMessages(failure) {
                let field = ["/email": "email", "/name": "name", "/role": "role"][pointer] ?? "email"
                let label = ["email": "Email address", "name": "Name", "role": "Role"][field]!
                let text =
                    message == "is required"
                    ? (field == "role" ? "Choose a role" : "Enter the \(label.lowercased())") : pointer.isEmpty ? message : "\(label) \(message)"
                summary.append((field, text))
                if fieldErrors[field] == nil { fieldErrors[field] = text }
            }
        }
        context.merge(Self.summary(summary)) { $1 }
        for k in ["email", "name"] {
            context[k] = add[k] ?? ""
            context.put("\(k)_error", fieldErrors[k])
        }
        context.put("role_error", fieldErrors["role"])
        context["add_roles"] = [
            ("admin", "Admin", "Everything, including staff and API tokens"), ("triager", "Triager", "Works on requests, data sets and emails"),
            ("viewer", "Viewer", "Reads requests and emails"),
        ].enumerated().map { i, r in
            ["value": r.0, "text": r.1, "hint": r.2, "id": i == 0 ? "role" : "role-\(r.0)", "checked": add["role"] == r.0] as [String: Any]
        }
        context.put(
            "notice",
            ["added": "Staff member added.", "role": "Role changed.", "disabled": "Staff member disabled; their API tokens are revoked."][
                notice ?? ""])
        return pages.page("staff_admin_staff", context, status: failure.map { Problem.from($0).status } ?? status)
    }

    /// A refusal as (pointer, message) pairs; a refusal without fields is one pair with an empty pointer.
    static func fieldMessages(_ e: ServiceError) -> [(String, String)] {
        let p = Problem.from(e)
        return p.errors.isEmpty ? [("", p.detail.capitalizedFirst)] : p.errors.map { ($0.pointer, $0.message) }
    }
}
