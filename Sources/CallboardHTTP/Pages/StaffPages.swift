import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/staff…`: the team's pages. Sign in with an emailed single-use link, then a session cookie
/// (HttpOnly, SameSite=Lax, Secure when Callboard is served over https). The triage board and the
/// request page show what the API's permission table allows, and post through the same services.
struct StaffPages {
    let signIn: StaffSignInService
    let requests: RequestService
    let dataSets: DataSetService
    let writes: DataWriteService
    let staff: StaffService
    let emails: EmailService
    let stats: StatsService
    let exports: ExportService
    let pages: PageRenderer
    let time: any TimeSource
    let secureCookies: Bool
    /// Where write URLs point (`CALLBOARD_BASE_URL`).
    let baseURL: String
    let webhooks: WebhookService
    static let cookie = "cb_session"

    func register(_ r: PageRoutes) {
        registerAdmin(r)
        registerWebhooks(r)
        registerDataSets(r)
        registerBulk(r)
        registerRequestForms(r)
        registerItemForms(r)
        registerPerformance(r)
        registerExports(r)
        r.on(.get, "/staff/sign-in") { _, _ in pages.page("staff_sign_in", ["title": "Sign in"]) }
        r.on(.post, "/staff/sign-in") { request, context in
            let form = try await request.formBody(context: context)
            let email = (form["email"] ?? "").trimmingCharacters(in: .whitespaces)
            if let problem = email.isEmpty
                ? "Enter your email address"
                : FieldRules.emailProblem(email).map({ _ in
                    "Enter an email address in the correct format, like name@example.gov.uk"
                })
            {
                return pages.page(
                    "staff_sign_in",
                    [
                        "title": "Sign in", "email": email, "email_error": problem, "has_errors": true,
                        "errors": [["field": "email", "message": problem]],
                    ], status: .unprocessableContent)
            }
            // Limited per address alike, whether or not it is a staff member's (the service counts it).
            do {
                try await signIn.requestLink(email: email)
            } catch let limited as RateLimited {
                return pages.tooManyRequests(
                    "Too many sign-in requests", "We have already sent links to that address.", retryAfter: limited.retryAfter)
            }
            return pages.message(
                "Check your email",
                [
                    "If \(email) belongs to the Performance Platform team, we have sent it a link to sign in. The link works once, for 15 minutes."
                ])
        }
        r.on(.get, "/staff/sign-in/:token") { _, context in
            let token = context.parameters.get("token") ?? ""
            // A GET changes nothing (mail scanners open links): signing in is the button's POST.
            let state = try await signIn.linkState(token)
            guard case .valid = state else { return unusable(state) }
            return pages.page("staff_sign_in_confirm", ["title": "Sign in", "token": token])
        }
        r.on(.post, "/staff/sign-in/:token") { _, context in
            let token = context.parameters.get("token") ?? ""
            guard let session = try await signIn.exchange(token) else { return unusable(try await signIn.linkState(token)) }
            var response = pages.redirect("/staff")
            response.setCookie(sessionCookie(session, maxAge: Int(StaffSignInService.sessionLifetime)))
            return response
        }
        r.on(.post, "/staff/sign-out") { request, context in
            let form = try await request.formBody(context: context)
            if let cookie = sessionCookie(request), let (_, csrf) = try await signIn.session(cookie),
                StaffService.constantTimeEquals(Array((form["csrf"] ?? "").utf8), Array(csrf.utf8))
            {
                try await signIn.signOut(cookie)
            }
            var response = pages.message("You have signed out", ["Sign in again from the link on the sign-in page."])
            response.setCookie(sessionCookie("", maxAge: 0))
            return response
        }
        r.on(.get, "/staff") { request, _ in
            try await signedIn(request) { who, csrf in try await board(request, who, csrf) }
        }
        r.on(.get, "/staff/requests/:id") { request, context in
            try await signedIn(request) { who, csrf in
                guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else { return notFound() }
                let q = FormQuery(request.uri)
                return try await requestPage(
                    id, who, csrf, errors: [], notice: q.get("notice"), before: q.get("before").flatMap { Int64($0) })
            }
        }
        r.on(.post, "/staff/requests/:id/transitions/:name") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
                    let name = context.parameters.get("name").flatMap(TransitionName.init(rawValue:))
                else { return notFound() }
                guard StaffService.constantTimeEquals(Array((form["csrf"] ?? "").utf8), Array(csrf.utf8)) else { return forbiddenForm() }
                var body: [String: JSONValue] = [:]
                for input in Lifecycle.definition(name).inputs {
                    if let v = form[input.rawValue]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty { body[input.rawValue] = .string(v) }
                }
                do {
                    _ = try await requests.transition(
                        id, name, body.isEmpty ? nil : .object(body), expectedVersion: Int(form["version"] ?? "") ?? 0, by: who)
                    return pages.redirect("/staff/requests/\(id.lowercasedString)?notice=\(name.rawValue)")
                } catch let e as ServiceError {
                    return try await requestPage(id, who, csrf, errors: Self.messages(e), notice: nil, status: Problem.from(e).status)
                }
            }
        }
        r.on(.post, "/staff/requests/:id/comments") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else { return notFound() }
                guard StaffService.constantTimeEquals(Array((form["csrf"] ?? "").utf8), Array(csrf.utf8)) else { return forbiddenForm() }
                do {
                    _ = try await requests.comment(id, .object(["text": .string(form["text"] ?? "")]), by: who)
                    return pages.redirect("/staff/requests/\(id.lowercasedString)?notice=comment")
                } catch let e as ServiceError {
                    return try await requestPage(id, who, csrf, errors: Self.messages(e), notice: nil, status: Problem.from(e).status)
                }
            }
        }
    }

    // MARK: - Sessions

    private func sessionCookie(_ request: Request) -> String? {
        request.cookies[Self.cookie].map(\.value).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The session cookie: HttpOnly, SameSite=Lax, whole site, Secure when the public address is https.
    private func sessionCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(name: Self.cookie, value: value, maxAge: maxAge, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    /// Runs `body` for a signed-in staff member; others are sent to sign in.
    func signedIn(_ request: Request, _ body: (Principal, String) async throws -> Response) async throws -> Response {
        guard let cookie = sessionCookie(request), let (who, csrf) = try await signIn.session(cookie) else {
            return pages.redirect("/staff/sign-in")
        }
        do {
            return try await body(who, csrf)
        } catch ServiceError.notFound {
            return notFound()
        } catch ServiceError.forbidden {
            return pages.message("You cannot do that", ["Your role does not allow it."], status: .forbidden)
        }
    }

    private func unusable(_ state: StaffSessionStore.SignInLinkState) -> Response {
        switch state {
        case .used:
            return pages.message(
                "This sign-in link has already been used", ["Each link works once. Ask for a new one on the sign-in page."],
                status: .gone)
        case .expired:
            return pages.message(
                "This sign-in link has expired", ["Links work for 15 minutes. Ask for a new one on the sign-in page."],
                status: .gone)
        default: return notFound()
        }
    }

    func notFound() -> Response { pages.notFound() }

    func forbiddenForm() -> Response { pages.formExpired("Go back, reload the page and try again.") }

    static func messages(_ e: ServiceError) -> [String] {
        let p = Problem.from(e)
        var out = p.errors.map { "\($0.pointer.isEmpty ? "" : $0.pointer + ": ")\($0.message)" }
        out += (p.extra["unmet_guards"]?.arrayValue ?? []).compactMap { $0["message"]?.stringValue }
        return out.isEmpty ? [p.detail] : out
    }

    func base(_ who: Principal, _ csrf: String, title: String) -> [String: Any] {
        ["title": title, "staff_email": who.email ?? "", "staff_csrf": csrf, "is_admin": who.actor == .admin]
    }

    // MARK: - Board

    private func board(_ request: Request, _ who: Principal, _ csrf: String) async throws -> Response {
        let q = FormQuery(request.uri)
        var filter = Self.boardFilter(q)
        filter.order = .slaDue
        let assignee = Self.plain(q.get("assignee") ?? "")
        let text = Self.plain(q.get("q") ?? "")
        let department = Self.plain(q.get("department") ?? "")
        filter.now = time.now()
        let cursor = q.get("cursor").flatMap(ListCursor.init(encoded:))
        let page = try await requests.list(filter, cursor: cursor, limit: 50, by: who)
        let counts = try await requests.countByState(by: who)
        let now = time.now()
        var context = base(who, csrf, title: "Dashboard requests")
        context["counts"] = RequestState.allCases.map { ["state": $0.rawValue, "title": $0.title, "count": counts[$0] ?? 0] as [String: Any] }
        context["states"] = RequestState.allCases.map {
            ["value": $0.rawValue, "text": $0.title, "selected": filter.states == [$0]] as [String: Any]
        }
        context["slas"] = [("at_risk", "At risk"), ("breached", "Breached")].map {
            ["value": $0.0, "text": $0.1, "selected": filter.sla?.rawValue == $0.0] as [String: Any]
        }
        context["items"] = ItemName.allCases.map { ["value": $0.rawValue, "text": $0.title, "selected": filter.missing == $0] as [String: Any] }
        context["assignee"] = assignee
        context["q"] = text
        context["department"] = department
        context["can_bulk"] = Permissions.allows(who.actor, .updateRequest)
        context["has_rows"] = !page.records.isEmpty
        context["can_create"] = Permissions.allows(who.actor, .createRequest)
        context["rows"] = page.records.map { r -> [String: Any] in
            var row: [String: Any] = [
                "id": r.id.lowercasedString, "service": r.serviceName.flatMap { $0.isEmpty ? nil : $0 } ?? "(no name yet)",
                "department": r.department, "state": r.state.title, "missing": r.missingItems.map(\.title).joined(separator: ", "),
                "assignee": r.assigneeEmail ?? "Unassigned", "reference": r.reference,
            ]
            // A withdrawn or live request owes no preview: it shows no due date.
            if let due = r.slaDueAt, let risk = r.slaAtRiskAt, ![.withdrawn, .live, .productAudit].contains(r.state) {
                let flags = PreviewSLA.flags(at: now, dueAt: due, atRiskAt: risk, metAt: r.slaMetAt)
                row["due"] = r.slaMetAt == nil ? London.date(of: due.addingTimeInterval(-1)).longText : "Met"
                row["at_risk"] = flags.atRisk
                row["breached"] = flags.breached
            }
            return row
        }
        // Pages are keyset cursors: the way back is the list of cursors that led here, carried along.
        let trail = (q.get("trail") ?? "").split(separator: ".").map(String.init).filter { !$0.isEmpty }.suffix(100)
        let kept = q.pairs.map { ($0.key, $0.value) }.filter { $0.0 != "cursor" && $0.0 != "trail" }
        func link(cursor: String?, trail: [String]) -> String {
            var items = kept
            if let cursor { items.append(("cursor", cursor)) }
            if !trail.isEmpty { items.append(("trail", trail.joined(separator: "."))) }
            return "/staff" + (items.isEmpty ? "" : "?" + items.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&"))
        }
        let filters = kept.filter { ["state", "sla", "missing", "assignee", "q", "department"].contains($0.0) && !$0.1.isEmpty }
        context["export_link"] =
            "/staff/export/requests.csv"
            + (filters.isEmpty ? "" : "?" + filters.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&"))
        if let next = page.next { context["next"] = link(cursor: next.encoded, trail: Array(trail) + [cursor?.encoded ?? "first"]) }
        if let back = trail.last {
            context["previous"] = link(cursor: back == "first" ? nil : back, trail: Array(trail.dropLast()))
        }
        return pages.page("staff_board", context)
    }

    /// The board's filters from its query string (the CSV export link carries the same).
    static func boardFilter(_ q: FormQuery) -> RequestFilter {
        var filter = RequestFilter()
        if let s = q.get("state").flatMap(RequestState.init(rawValue:)) { filter.states = [s] }
        filter.sla = q.get("sla").flatMap(SLAFilter.init(rawValue:))
        filter.missing = q.get("missing").flatMap(ItemName.init(rawValue:))
        let assignee = plain(q.get("assignee") ?? "")
        if assignee == "none" { filter.unassigned = true } else if !assignee.isEmpty { filter.assigneeEmail = assignee }
        let text = plain(q.get("q") ?? "")
        if !text.isEmpty { filter.text = String(text.prefix(200)) }
        let department = plain(q.get("department") ?? "")
        if !department.isEmpty { filter.department = String(department.prefix(200)) }
        return filter
    }

    // MARK: - Request page

    /// Timeline entries a request page shows; "Show older events" pages back through the rest.
    static let timelinePageSize = 50

    /// `before`: show the events before this one (the "Show older events" cursor); nil, the newest.
    private func requestPage(
        _ id: UUID, _ who: Principal, _ csrf: String, errors: [String], notice: String?, before: Int64? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let r = try await requests.get(id, by: who)
        var context = base(who, csrf, title: r.checklist.serviceName ?? "Request")
        context["id"] = r.id.lowercasedString
        context["reference"] = r.reference
        context["can_edit"] = Permissions.allows(who.actor, .updateRequest) && !r.state.isFinal
        context["service"] = r.checklist.serviceName ?? "(no name yet)"
        context["department"] = r.department
        context["state"] = r.state.title
        context["kind"] = r.kind.rawValue.replacingOccurrences(of: "_", with: "-")
        context["assignee"] = r.assigneeEmail ?? "Unassigned"
        if let p = r.previewURL { context["preview_url"] = p }
        if let l = r.liveURL { context["live_url"] = l }
        if let (promise, s) = requests.previewSLA(r) {
            let due = promise.dueDate.longText
            context["sla"] =
                promise.metAt != nil
                ? "Met (due by the end of \(due))"
                : "Due by the end of \(due); \(s.workingDaysRemaining) working days left"
                    + (s.breached ? " — breached" : s.atRisk ? " — at risk" : "")
        } else {
            context["sla"] = "Starts when the information is complete"
        }
        // The same engine and permission table as the API decide what is offered.
        context["transitions"] = TransitionEngine.firable(on: r.snapshot, by: who.actor).map { def -> [String: Any] in
            [
                "id": r.id.lowercasedString, "name": def.name.rawValue, "csrf": csrf, "version": r.version,
                "title": def.name.rawValue.replacingOccurrences(of: "_", with: " ").capitalizedFirst, "summary": def.summary,
                "inputs": def.inputs.map { input -> [String: Any] in
                    var c: [String: Any] = [
                        "input": input.rawValue, "field_id": "\(def.name.rawValue)-\(input.rawValue)",
                        "label": input.rawValue.replacingOccurrences(of: "_", with: " ").capitalizedFirst,
                    ]
                    if input == .outcome {
                        c["choices"] = true
                        c["options"] = AuditOutcome.allCases.map(\.rawValue)
                    }
                    return c
                },
            ]
        }
        context["checklist"] = r.kind.requiredItems.map { item -> [String: Any] in
            let i = r.checklist[item]
            let status = i.status == .provided ? "Provided" : i.status == .notAvailable ? "Cannot provide: \(i.reason ?? "")" : "Missing"
            return ["title": item.title, "status": status, "name": item.rawValue]
        }
        context["data_sets"] = try await dataSets.list(requestID: r.id, by: who).map { d -> [String: String] in
            var row = [
                "name": d.record.name, "cadence": d.record.schedule.cadence.rawValue, "period": "\(d.period.start) to \(d.period.end)",
                "due": d.due.date.longText, "status": d.status.rawValue.replacingOccurrences(of: "_", with: " "),
            ]
            row["href"] = "/staff/requests/\(r.id.lowercasedString)/data-sets/\(d.record.id.lowercasedString)"
            if let p = d.record.writePath { row["write_url"] = baseURL + p.path }
            if let w = d.record.lastWrite {
                let by = w.source == "csv" ? "CSV upload" : w.tokenID.map { "write token \($0.lowercasedString.prefix(8))" } ?? "write API"
                row["last_write"] = "\(London.date(of: w.at).longText): \(w.records) record\(w.records == 1 ? "" : "s") (\(by))"
            }
            return row
        }
        context["can_add_data_set"] = who.allows(.updateRequest)
        // The comment form's token (it reads `csrf`, which only the transitions' rows carried).
        context["csrf"] = csrf
        context["can_comment"] = Permissions.allows(who.actor, .comment)
        // One page of the history, newest first: never the whole of it.
        let timeline = try await requests.newestEvents(of: r, beforeID: before, limit: Self.timelinePageSize, by: who)
        context["timeline"] = timeline.events.map(Self.timelineEntry)
        let path = "/staff/requests/\(r.id.lowercasedString)"
        if let older = timeline.older { context["older"] = "\(path)?before=\(older)" }
        if before != nil { context["newest"] = path }
        // Only notices this page itself sends are shown.
        if let n = notice {
            if n == "comment" {
                context["notice"] = "Comment added."
            } else if n == "created" {
                context["notice"] = "Request created. Its reference is \(r.reference)."
            } else if n == "updated" {
                context["notice"] = "Request saved."
            } else if let t = TransitionName(rawValue: n) {
                context["notice"] = "Done: \(t.rawValue.replacingOccurrences(of: "_", with: " "))."
            }
        }
        if !errors.isEmpty {
            context["has_errors"] = true
            context["errors"] = errors.map { ["field": "main-content", "message": $0] }
        }
        return pages.page("staff_request", context, status: status)
    }

    static func timelineEntry(_ e: EventRecord) -> [String: String] {
        let d = e.data
        var what = e.kind.replacingOccurrences(of: "_", with: " ").capitalizedFirst
        var detail: String?
        switch e.kind {
        case "transitioned":
            what = (d["transition"]?.stringValue ?? "").replacingOccurrences(of: "_", with: " ").capitalizedFirst
            detail = [d["reason"]?.stringValue, d["evidence"]?.stringValue, d["preview_url"]?.stringValue, d["live_url"]?.stringValue]
                .compactMap { $0 }.joined(separator: " · ")
        case "comment": detail = d["text"]?.stringValue
        case "updated": detail = (d["changes"]?.objectValue ?? [:]).keys.sorted().joined(separator: ", ")
        case let k where k.hasPrefix("email_"):
            what = "Email \(k.dropFirst(6)): \((d["email_kind"]?.stringValue ?? "").replacingOccurrences(of: "_", with: " "))"
            detail = [d["recipient"]?.stringValue, d["detail"]?.stringValue].compactMap { $0 }.joined(separator: " · ")
        case "reminder_queued":
            what = "Reminder: \((d["reminder"]?.stringValue ?? "").replacingOccurrences(of: "_", with: " "))"
            detail = d["recipients"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ")
        default: break
        }
        var out = [
            "what": what, "when": London.dateTimeText(e.occurredAt), "who": e.actorID.map { "\(e.actorKind.rawValue) \($0)" } ?? e.actorKind.rawValue,
        ]
        if let detail, !detail.isEmpty { out["detail"] = detail }
        return out
    }
}

extension StaffPages {
    /// A query value without control characters (a NUL would make PostgreSQL refuse the
    /// statement): such a value names nothing, and the board says so by listing nothing.
    static func plain(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.filter { $0.properties.generalCategory != .control }))
            .trimmingCharacters(in: .whitespaces)
    }

    static func encode(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
