import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/staff/admin/tokens`: the staff API tokens (admin only). A new token is the signed-in admin's,
/// shown once on the answer to the form (never in an address, never again).
extension StaffPages {
    func registerTokens(_ r: PageRoutes) {
        r.on(.get, "/staff/admin/tokens") { request, _ in
            try await signedIn(request) { who, csrf in
                try await tokensPage(who, csrf, notice: FormQuery(request.uri).get("notice") == "revoked")
            }
        }
        r.on(.post, "/staff/admin/tokens") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard csrfMatches(form, csrf) else { return forbiddenForm() }
                let name = Self.text(form["name"])
                let expiresOn = Self.text(form["expires_on"])
                var body: [String: JSONValue] = ["email": .string(who.email ?? ""), "name": .string(name)]
                if !expiresOn.isEmpty {
                    guard let day = CivilDate(iso: expiresOn) else {
                        return try await tokensPage(
                            who, csrf, name: name, expiresOn: expiresOn,
                            errors: [("expires_on", "Enter the expiry date as a date, like 2027-01-31")], status: .unprocessableContent)
                    }
                    // The token works to the end of that day in London.
                    body["expires_at"] = .string(Timestamp.rfc3339(London.instant(day.adding(days: 1))))
                }
                var created: (token: String, record: TokenRecord)?
                if let e = try await attempt({ created = try await staff.createToken(.object(body), by: who) }) {
                    let errors = Self.fieldMessages(e).map { pointer, message in
                        pointer == "/expires_at"
                            ? ("expires_on", "Expiry date \(message)") : pointer == "/name" ? ("name", "Name \(message)") : ("name", message)
                    }
                    return try await tokensPage(who, csrf, name: name, expiresOn: expiresOn, errors: errors, status: Problem.from(e).status)
                }
                guard let created else { return notFound() }
                return tokenCreated(
                    who, csrf, title: "API token created", token: created.token,
                    use: "Send it as Authorization: Bearer <token> to the API. It acts as you, with your role.",
                    back: ("/staff/admin/tokens", "Back to API tokens"))
            }
        }
        r.on(.post, "/staff/admin/tokens/:id/revoke") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id") else { return notFound() }
                guard csrfMatches(form, csrf) else { return forbiddenForm() }
                _ = try await staff.revokeToken(id, by: who)
                return pages.redirect("/staff/admin/tokens?notice=revoked")
            }
        }
    }

    private func tokensPage(
        _ who: Principal, _ csrf: String, notice: Bool = false, name: String = "", expiresOn: String = "",
        errors: [(field: String, message: String)] = [], status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let tokens = try await staff.listTokens(by: who)
        let owners = Dictionary(try await staff.listStaff(by: who).map { ($0.id, $0.email) }) { a, _ in a }
        let now = time.now()
        var context = base(who, csrf, title: "API tokens")
        context.merge(Self.summary(errors)) { $1 }
        context["rows"] = tokens.map { t -> [String: Any] in
            let state =
                t.revokedAt.map { "Revoked \(London.dateTimeText($0))" }
                ?? t.expiresAt.flatMap { $0 <= now ? "Expired \(London.dateTimeText($0))" : nil } ?? "Active"
            return [
                "id": t.id.lowercasedString, "short_id": String(t.id.lowercasedString.prefix(8)), "name": t.name.isEmpty ? "—" : t.name,
                "owner": owners[t.staffID] ?? t.staffID.lowercasedString, "created": London.dateTimeText(t.createdAt),
                "expires": t.expiresAt.map(London.dateTimeText) ?? "Never", "last_used": t.lastUsedAt.map(London.dateTimeText) ?? "Never",
                "state": state, "can_revoke": state == "Active",
            ]
        }
        context["name"] = name
        context["expires_on"] = expiresOn
        for (field, message) in errors.reversed() { context["\(field)_error"] = message }
        if notice { context["notice"] = "Token revoked: it no longer works." }
        return pages.page("staff_admin_tokens", context, status: status)
    }

    /// The answer to creating a token: the one time it is shown (the page is `no-store`, like every page).
    func tokenCreated(_ who: Principal, _ csrf: String, title: String, token: String, use: String, back: (String, String)) -> Response {
        var context = base(who, csrf, title: title)
        context["token"] = token
        context["use"] = use
        context["back_href"] = back.0
        context["back_text"] = back.1
        return pages.page("staff_token_created", context)
    }
}
