import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/apply…`: the front door. A start page, one question a page (the item forms of the task list,
/// checked by the API's own rules), save and come back later by emailed link, check your answers,
/// and a confirmation link emailed to the applicant, whose button makes the request.
struct ApplyPages {
    let service: ApplyService
    let pages: PageRenderer
    let secureCookies: Bool
    static let cookie = "cb_apply"

    func register(_ r: PageRoutes) {
        r.on(.get, "/apply") { request, _ in
            var context: [String: Any] = ["title": "Apply for a Performance Platform dashboard"]
            if let app = try await application(request) { context["resume"] = "/apply/\(nextStep(app))" }
            return pages.page("apply_start", context)
        }
        r.on(.post, "/apply/start") { request, context in
            // No session yet, so no CSRF token: a cross-site post is refused by its Origin, and
            // all this does is make an empty application, counted per client address.
            do {
                let (session, _) = try await service.start(client: client(request, context))
                var response = pages.redirect("/apply/\(ApplyStep.kind.rawValue)")
                response.setCookie(sessionCookie(session, maxAge: Int(ApplyService.sessionLifetime)))
                return response
            } catch let limited as RateLimited {
                return tooMany(limited)
            }
        }
        r.on(.get, "/apply/check") { request, _ in
            guard let app = try await application(request) else { return pages.redirect("/apply") }
            return check(app, incomplete: [])
        }
        r.on(.post, "/apply/check") { request, context in
            let form = try await request.formBody(context: context)
            guard let app = try await application(request) else { return expired() }
            if form["action"] == "draft" { return pages.redirect("/apply/save") }
            do {
                let email = try await service.submit(app, csrf: form["csrf"] ?? "", client: client(request, context))
                return pages.message(
                    "Check your email",
                    [
                        "We have sent a link to \(email). Select it to confirm your email address and send your application.",
                        "The link works once, for 24 hours. Nothing reaches the team until you select it.",
                        "If it has not arrived in a few minutes, check your spam folder, or send the application again from the check your answers page.",
                    ])
            } catch ApplyService.Failure.incomplete(let missing) {
                return check(app, incomplete: missing)
            } catch ApplyService.Failure.badCSRF {
                return expired()
            } catch let limited as RateLimited {
                return tooMany(limited)
            }
        }
        r.on(.get, "/apply/save") { request, _ in
            guard let app = try await application(request) else { return pages.redirect("/apply") }
            return save(app, email: app.email ?? "", error: nil)
        }
        r.on(.post, "/apply/save") { request, context in
            let form = try await request.formBody(context: context)
            guard let app = try await application(request) else { return expired() }
            let email = (form["email"] ?? "").trimmingCharacters(in: .whitespaces)
            do {
                try await service.sendResumeLink(app, csrf: form["csrf"] ?? "", email: email, client: client(request, context))
                return pages.message(
                    "Check your email",
                    [
                        "We have sent a link to \(email). Use it to continue your application on any device.",
                        "Your answers are kept for \(RetentionStore.unconfirmedApplicationDays) days from when you started.",
                    ])
            } catch ApplyService.Failure.invalid(let errors) {
                let message = errors.first.map { $0.message == "is required" ? "Enter your email address" : "Email address \($0.message)" }
                return save(app, email: email, error: message)
            } catch ApplyService.Failure.badCSRF {
                return expired()
            } catch let limited as RateLimited {
                return tooMany(limited)
            }
        }
        r.on(.get, "/apply/resume/:token") { _, context in
            let token = context.parameters.get("token") ?? ""
            guard case .valid = try await service.linkState(token, purpose: .resume) else { return try await unusable(token, .resume) }
            return pages.page(
                "link_button",
                [
                    "title": "Continue your application", "paragraphs": ["Select the button to carry on where you left off."],
                    "action": "/apply/resume/\(token)", "button": "Continue your application",
                ])
        }
        r.on(.post, "/apply/resume/:token") { _, context in
            let token = context.parameters.get("token") ?? ""
            guard let session = try await service.resume(token) else { return try await unusable(token, .resume) }
            var response = pages.redirect("/apply/check")
            response.setCookie(sessionCookie(session, maxAge: Int(ApplyService.sessionLifetime)))
            return response
        }
        r.on(.get, "/apply/confirm/:token") { _, context in
            let token = context.parameters.get("token") ?? ""
            // A GET changes nothing (mail scanners open links): confirming is the button's POST.
            guard case .valid = try await service.linkState(token, purpose: .confirm) else { return try await unusable(token, .confirm) }
            return pages.page(
                "link_button",
                [
                    "title": "Confirm your email address",
                    "paragraphs": ["Select the button to confirm your email address and send your application."],
                    "action": "/apply/confirm/\(token)", "button": "Confirm and send",
                ])
        }
        r.on(.post, "/apply/confirm/:token") { _, context in
            let token = context.parameters.get("token") ?? ""
            guard let outcome = try await service.confirm(token) else { return try await unusable(token, .confirm) }
            var response: Response
            switch outcome {
            case .created(let record):
                var paragraphs = ["Quote this reference if you contact the team. The team can find your request by it."]
                paragraphs.append(
                    record.state == .requested
                        ? "We have also emailed you a link to give the rest of the information. We build a preview within 5 working days of having all of it."
                        : "You have given us all the information we need. We build a preview within 5 working days.")
                if let owner = record.checklist.signOffEmail {
                    paragraphs.append("We have told \(owner) that they will be asked to approve publication.")
                }
                response = pages.message("Application sent", paragraphs, panel: true, panelBody: "Your reference is \(record.reference)")
            case .duplicate:
                response = pages.message(
                    "A dashboard has already been requested for this service",
                    ["We have not made a new request. We have told the team you asked, and they will contact you."])
            }
            response.setCookie(sessionCookie("", maxAge: 0))
            return response
        }
        r.on(.get, "/apply/:step") { request, context in
            guard let step = context.parameters.get("step").flatMap(ApplyStep.init(rawValue:)) else { return pages.notFound() }
            guard let app = try await application(request) else { return pages.redirect("/apply") }
            guard stepsOf(app).contains(step) else { return pages.redirect("/apply/\(nextStep(app))") }
            let kept = app.answers["forms"]?[step.rawValue]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
            return question(app, step, values: kept, errors: [])
        }
        r.on(.post, "/apply/:step") { request, context in
            guard let step = context.parameters.get("step").flatMap(ApplyStep.init(rawValue:)) else { return pages.notFound() }
            let form = try await request.formBody(context: context)
            guard let app = try await application(request), stepsOf(app).contains(step) else { return expired() }
            // A robot fills in every field, the hidden one too: it is shown the next page, and nothing is kept.
            if let trap = form["website"], !trap.isEmpty { return pages.redirect("/apply/\(step.next(for: kind(app))?.rawValue ?? "check")") }
            let csrf = form["csrf"] ?? ""
            let own: Set<String> = step == .kind ? ["kind"] : ["department", "division"]
            let values = step.item.map { ItemForms.normalised($0, form) } ?? form.filter { own.contains($0.key) }
            do {
                switch form["action"] {
                case "add_row":
                    guard let item = step.item else { break }
                    var more = values
                    more["rows"] = String(ItemForms.rowCount(item, values) + 1)
                    return question(app, step, values: more, errors: [])
                case "draft":
                    _ = try await service.keepDraft(app, csrf: csrf, step: step, form: values)
                    return pages.redirect("/apply/save")
                case "skip":
                    let after = try await service.skip(app, csrf: csrf, step: step)
                    return pages.redirect("/apply/\(nextStep(after, from: step))")
                default: break
                }
                let after = try await service.answer(app, csrf: csrf, step: step, form: values, value: Self.json(step, values))
                return pages.redirect("/apply/\(nextStep(after, from: step))")
            } catch ApplyService.Failure.invalid(let errors) {
                return question(app, step, values: values, errors: errors)
            } catch ApplyService.Failure.badCSRF {
                return expired()
            }
        }
        for (path, page) in StaticPages.all {
            r.on(.get, path) { _, _ in pages.page("static_page", page.context) }
        }
    }

    // MARK: - Sessions

    private func application(_ request: Request) async throws -> ApplicationRecord? {
        guard let cookie = request.cookies[Self.cookie]?.value, !cookie.isEmpty else { return nil }
        guard let app = try await service.application(session: cookie), app.status == .draft || app.status == .submitted else { return nil }
        return app
    }

    private func sessionCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(name: Self.cookie, value: value, maxAge: maxAge, path: "/apply", secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    private func client(_ request: Request, _ context: AppContext) -> String {
        ClientAddress.resolve(
            peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[.init("X-Forwarded-For")!],
            trusted: service.settings.trustedProxies)
    }

    private func expired() -> Response {
        pages.message(
            "Your application has timed out", ["Start again from the Apply for a dashboard page, or use the link we emailed you to continue."],
            status: .forbidden)
    }

    private func tooMany(_ limited: RateLimited) -> Response {
        pages.tooManyRequests("Too many attempts", "There have been too many applications or emails from here.", retryAfter: limited.retryAfter)
    }

    private func unusable(_ token: String, _ purpose: ApplicationLink.Purpose) async throws -> Response {
        switch try await service.linkState(token, purpose: purpose) {
        case .used:
            return pages.message(
                "This link has already been used",
                [
                    purpose == .confirm
                        ? "Your application has been sent."
                        : "Each link to continue works once. Ask for a new one from the application's Save and come back later page."
                ], status: .gone)
        case .expired:
            return pages.message(
                "This link has expired",
                [
                    purpose == .confirm
                        ? "Confirmation links work for 24 hours. Go back to your application's check your answers page and send it again."
                        : "Your answers are kept for \(RetentionStore.unconfirmedApplicationDays) days from when you started. Start a new application."
                ], status: .gone)
        default: return pages.notFound()
        }
    }

    // MARK: - Questions

    private func kind(_ app: ApplicationRecord) -> RequestKind? { app.answers["kind"]?.stringValue.flatMap(RequestKind.init(rawValue:)) }

    private func stepsOf(_ app: ApplicationRecord) -> [ApplyStep] { ApplyStep.steps(for: kind(app)) }

    /// Where to go after `step`: the next question not answered yet, else check your answers.
    private func nextStep(_ app: ApplicationRecord, from step: ApplyStep? = nil) -> String {
        let open = ApplyService.unanswered(app.answers)
        let steps = stepsOf(app)
        let after = step.flatMap { s in steps.firstIndex(of: s) }.map { steps[($0 + 1)...] } ?? steps[...]
        return (after.first(where: open.contains) ?? open.first)?.rawValue ?? "check"
    }

    static let kindField = ItemForms.Field(
        id: "kind", label: "Is your service transactional?",
        hint: "A transactional service is one where users apply, pay, register or book: it ends in a change to a government record.",
        kind: .radios([("transactional", "Yes"), ("non_transactional", "No, it gives information or guidance")]))
    static let organisationFields = [
        ItemForms.Field(id: "department", label: "Department or agency", hint: "For example, Driver and Vehicle Licensing Agency"),
        ItemForms.Field(
            id: "division", label: "Which bank holidays does the service's team keep?", hint: "We count working days by them",
            kind: .radios(Division.allCases.map { ($0.rawValue, $0.title) })),
    ]

    /// What a step's form means, for `ApplyService.answer`.
    static func json(_ step: ApplyStep, _ values: [String: String]) -> JSONValue {
        func text(_ k: String) -> JSONValue {
            let v = (values[k] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            return v.isEmpty ? .null : .string(v)
        }
        switch step {
        case .kind: return text("kind")
        case .organisation:
            var o: [String: JSONValue] = [:]
            for k in ["department", "division"] where text(k) != .null { o[k] = text(k) }
            return .object(o)
        default: return ItemForms.json(step.item!, form: values)
        }
    }

    private func question(_ app: ApplicationRecord, _ step: ApplyStep, values: [String: String], errors: [FieldError]) -> Response {
        var fields: [[String: Any]]
        var summary: [[String: String]] = []
        var reasonError: String?
        if let item = step.item {
            let rendered = ItemForms.render(item, values: values, errors: errors)
            fields = rendered.fields
            summary = rendered.summary
            reasonError = rendered.fieldErrors["reason"]
        } else {
            var fieldErrors: [String: String] = [:]
            for e in errors {
                let id = String(e.pointer.dropFirst())
                let message: String
                switch (id, e.message) {
                case ("kind", _): message = "Select yes if your service is transactional"
                case ("department", "is required"): message = "Enter your department or agency"
                case ("division", _): message = "Select which bank holidays the team keeps"
                default: message = "Department or agency \(e.message)"
                }
                if fieldErrors[id] == nil { fieldErrors[id] = message }
                summary.append(["field": id, "message": message])
            }
            fields = (step == .kind ? [Self.kindField] : Self.organisationFields).map {
                ItemForms.context($0, values: values, error: fieldErrors[$0.id])
            }
        }
        let back = step.previous(for: kind(app)).map { "/apply/\($0.rawValue)" } ?? "/apply"
        var context: [String: Any] = [
            "title": step.title, "item_title": step.title, "service_name": "Apply for a dashboard", "csrf": app.csrf,
            "action": "/apply/\(step.rawValue)", "back": back, "back_text": "Back", "fields": fields, "honeypot": true,
            "may_be_unavailable": step.item?.mayBeUnavailable ?? false, "not_available": values["availability"] == "not_available",
            "reason": values["reason"] ?? "", "has_errors": !summary.isEmpty, "errors": summary,
            "skip_button": step.item != nil && !step.isRequired, "draft_button": true,
        ]
        if let e = reasonError { context["reason_error"] = e }
        return pages.page("item_form", context, status: errors.isEmpty ? .ok : .unprocessableContent)
    }

    private func save(_ app: ApplicationRecord, email: String, error: String?) -> Response {
        var context: [String: Any] = [
            "title": "Save and come back later", "csrf": app.csrf, "email": email, "back": "/apply/check",
            "days": RetentionStore.unconfirmedApplicationDays,
        ]
        if let error {
            context["email_error"] = error
            context["has_errors"] = true
            context["errors"] = [["field": "email", "message": error]]
        }
        return pages.page("apply_save", context, status: error == nil ? .ok : .unprocessableContent)
    }

    private func check(_ app: ApplicationRecord, incomplete: [ApplyStep]) -> Response {
        let forms = app.answers["forms"]?.objectValue ?? [:]
        let open = Set(ApplyService.unanswered(app.answers))
        let skipped = Set((app.answers["skipped"]?.arrayValue ?? []).compactMap(\.stringValue))
        let sections: [[String: Any]] = stepsOf(app).map { step in
            let values = forms[step.rawValue]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
            var rows: [[String: String]] = []
            if !open.contains(step), !skipped.contains(step.rawValue) {
                switch step {
                case .kind: rows.append(["key": "Transactional", "value": values["kind"] == "transactional" ? "Yes" : "No"])
                case .organisation:
                    rows.append(["key": "Department or agency", "value": values["department"] ?? ""])
                    rows.append([
                        "key": "Bank holidays", "value": values["division"].flatMap(Division.init(rawValue:)).map(\.title) ?? "",
                    ])
                default:
                    let item = step.item!
                    if values["availability"] == "not_available" {
                        rows.append(["key": "Why not", "value": values["reason"] ?? ""])
                    } else {
                        for f in ItemForms.fields(item, rows: ItemForms.rowCount(item, values)) {
                            guard let v = values[f.id], !v.isEmpty else { continue }
                            rows.append(["key": f.label, "value": { if case .checkbox = f.kind { return "Yes" } else { return v } }()])
                        }
                    }
                }
            }
            let status = open.contains(step) ? "Not answered" : skipped.contains(step.rawValue) ? "You will give this later" : "Answered"
            return ["title": step.title, "step": step.rawValue, "rows": rows, "status": status]
        }
        var context: [String: Any] = [
            "title": "Check your answers", "sections": sections, "csrf": app.csrf, "back": "/apply/\(stepsOf(app).last!.rawValue)",
        ]
        if !incomplete.isEmpty {
            context["has_errors"] = true
            context["errors"] = incomplete.map { ["field": $0.rawValue, "message": "Answer \"\($0.title)\" before you send the application"] }
        }
        return pages.page("apply_check", context, status: incomplete.isEmpty ? .ok : .unprocessableContent)
    }
}
