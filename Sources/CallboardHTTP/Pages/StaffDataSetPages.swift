import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/staff/requests/{id}/data-sets…`: a request's data sets, their uploaders and write tokens.
/// Creating and editing go through `DataSetService` (`.updateRequest`), tokens through
/// `DataWriteService` (`.manageWriteTokens`); each refuses whoever may not.
extension StaffPages {
    func registerDataSets(_ r: PageRoutes) {
        r.on(.get, "/staff/requests/:id/data-sets/new") { request, context in
            try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id") else { return notFound() }
                try who.require(.updateRequest)
                return try await newDataSetPage(id, who, csrf, form: DataSetForm(), errors: [])
            }
        }
        r.on(.post, "/staff/requests/:id/data-sets/new") { request, context in
            let posted = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id") else { return notFound() }
                guard csrfMatches(posted, csrf) else { return forbiddenForm() }
                var form = DataSetForm(form: posted)
                if form.addRow(posted["action"]) { return try await newDataSetPage(id, who, csrf, form: form, errors: []) }
                var created: DataSetView?
                if let e = try await attempt({ created = try await dataSets.create(requestID: id, form.json(creating: true), by: who) }) {
                    return try await newDataSetPage(id, who, csrf, form: form.normalised, errors: Self.fieldErrors(e), status: Problem.from(e).status)
                }
                guard let created else { return notFound() }
                return pages.redirect(Self.dataSetPath(id, created.record.id) + "?notice=created")
            }
        }
        r.on(.get, "/staff/requests/:id/data-sets/:dsid") { request, context in
            try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id"), let dsid = uuid(context, "dsid") else { return notFound() }
                return try await dataSetPage(id, dsid, who, csrf, notice: FormQuery(request.uri).get("notice"))
            }
        }
        r.on(.post, "/staff/requests/:id/data-sets/:dsid") { request, context in
            let posted = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id"), let dsid = uuid(context, "dsid") else { return notFound() }
                guard csrfMatches(posted, csrf) else { return forbiddenForm() }
                var form = DataSetForm(form: posted)
                if form.addRow(posted["action"]) { return try await dataSetPage(id, dsid, who, csrf, form: form) }
                if let e = try await attempt({ _ = try await dataSets.update(requestID: id, dataSetID: dsid, form.json(creating: false), by: who) }) {
                    return try await dataSetPage(
                        id, dsid, who, csrf, form: form.normalised, errors: Self.fieldErrors(e), status: Problem.from(e).status)
                }
                return pages.redirect(Self.dataSetPath(id, dsid) + "?notice=updated")
            }
        }
        r.on(.post, "/staff/requests/:id/data-sets/:dsid/resend") { request, context in
            let posted = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id"), let dsid = uuid(context, "dsid") else { return notFound() }
                guard csrfMatches(posted, csrf) else { return forbiddenForm() }
                var status: EmailStatus?
                if let e = try await attempt({
                    status = try await dataSets.resendUploadLink(requestID: id, dataSetID: dsid, email: Self.text(posted["email"]), by: who)
                }) {
                    return try await dataSetPage(
                        id, dsid, who, csrf,
                        errors: Self.fieldMessages(e).map {
                            ("uploaders", $0.0 == "/email" ? "That address is not an uploader of this data set" : $0.1)
                        }, status: Problem.from(e).status)
                }
                let notice = status == .queued ? "resent" : status == .suppressed ? "resend_suppressed" : "resend_already"
                return pages.redirect(Self.dataSetPath(id, dsid) + "?notice=\(notice)")
            }
        }
        r.on(.post, "/staff/requests/:id/data-sets/:dsid/tokens") { request, context in
            let posted = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id"), let dsid = uuid(context, "dsid") else { return notFound() }
                guard csrfMatches(posted, csrf) else { return forbiddenForm() }
                // The data set must be this request's: the token service knows only data sets.
                let view = try await dataSets.get(requestID: id, dataSetID: dsid, by: who)
                var created: (token: String, record: WriteTokenRecord)?
                if let e = try await attempt({
                    created = try await writes.createToken(dataSetID: dsid, .object(["name": .string(Self.text(posted["name"]))]), by: who)
                }) {
                    return try await dataSetPage(
                        id, dsid, who, csrf, errors: Self.fieldMessages(e).map { ("token_name", $0.0 == "/name" ? "Token name \($0.1)" : $0.1) },
                        tokenName: Self.text(posted["name"]),
                        status: Problem.from(e).status)
                }
                guard let created else { return notFound() }
                let target = view.record.writePath.map { " to \(baseURL)\($0.path)" } ?? " once the data set has a data group and data type"
                return tokenCreated(
                    who, csrf, title: "Write token created", token: created.token,
                    use: "Send it as Authorization: Bearer <token> with writes\(target). It writes only this data set.",
                    back: (Self.dataSetPath(id, dsid), "Back to \(view.record.name)"))
            }
        }
        r.on(.post, "/staff/requests/:id/data-sets/:dsid/tokens/:tid/revoke") { request, context in
            let posted = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard let id = uuid(context, "id"), let dsid = uuid(context, "dsid"), let tid = uuid(context, "tid") else { return notFound() }
                guard csrfMatches(posted, csrf) else { return forbiddenForm() }
                _ = try await dataSets.get(requestID: id, dataSetID: dsid, by: who)
                _ = try await writes.revokeToken(dataSetID: dsid, tokenID: tid, by: who)
                return pages.redirect(Self.dataSetPath(id, dsid) + "?notice=revoked")
            }
        }
    }

    static func dataSetPath(_ request: UUID, _ dataSet: UUID) -> String {
        "/staff/requests/\(request.lowercasedString)/data-sets/\(dataSet.lowercasedString)"
    }

    /// A refusal as the form's errors, in the API's order; one without a field goes on the name.
    static func fieldErrors(_ e: ServiceError) -> [(field: String, message: String)] {
        let p = Problem.from(e)
        return p.errors.isEmpty ? [("name", p.detail.capitalizedFirst)] : p.errors.map(DataSetForm.message)
    }

    private func newDataSetPage(
        _ id: UUID, _ who: Principal, _ csrf: String, form: DataSetForm, errors: [(field: String, message: String)],
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let r = try await requests.get(id, by: who)
        var context = base(who, csrf, title: "Add a data set")
        context.merge(Self.summary(errors)) { $1 }
        context["request_id"] = r.id.lowercasedString
        context["service"] = r.checklist.serviceName ?? "(no name yet)"
        context["form"] = form.context(errors: Self.firstErrors(errors))
        context["action"] = "/staff/requests/\(r.id.lowercasedString)/data-sets/new"
        context["submit"] = "Add data set"
        return pages.page("staff_data_set_new", context, status: status)
    }

    /// The first error of each field, shown beside it.
    static func firstErrors(_ errors: [(field: String, message: String)]) -> [String: String] {
        Dictionary(errors.map { ($0.field, $0.message) }) { a, _ in a }
    }

    /// The data set page; `form` (what was posted) replaces the stored values in the edit form.
    private func dataSetPage(
        _ id: UUID, _ dsid: UUID, _ who: Principal, _ csrf: String, notice: String? = nil, form: DataSetForm? = nil,
        errors: [(field: String, message: String)] = [], tokenName: String = "", status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let view = try await dataSets.get(requestID: id, dataSetID: dsid, by: who)
        let r = try await requests.get(id, by: who)
        let d = view.record
        var context = base(who, csrf, title: d.name)
        context.merge(Self.summary(errors)) { $1 }
        context["request_id"] = r.id.lowercasedString
        context["service"] = r.checklist.serviceName ?? "(no name yet)"
        context["path"] = Self.dataSetPath(id, dsid)
        context["name"] = d.name
        context["cadence"] = d.schedule.cadence.rawValue.capitalizedFirst
        context["due_rule"] = "\(d.schedule.dueWorkingDaysAfterPeriod) working days after each period ends"
        context["period"] = "\(view.period.start.longText) to \(view.period.end.longText)"
        context["due"] = view.due.date.longText + (view.due.uncertain ? " (bank holidays not yet published)" : "")
        context["status"] = Self.words(view.status.rawValue)
        context.put("last_upload", view.lastUpload.map { "\(London.dateTimeText($0.receivedAt)) (\($0.source))" })
        context.put("write_url", d.writePath.map { baseURL + $0.path })
        context.put(
            "last_write",
            d.lastWrite.map { w in
                let by = w.source == "csv" ? "CSV upload" : w.tokenID.map { "write token \($0.lowercasedString.prefix(8))" } ?? "write API"
                return "\(London.dateTimeText(w.at)): \(w.records) record\(w.records == 1 ? "" : "s") (\(by))"
            })
        context["private"] = d.isPrivate ? "Yes: reads need a token" : "No"
        context["fields_text"] = d.fields.isEmpty ? "None declared" : d.fields.map { "\($0.name) (\($0.type.rawValue))" }.joined(separator: ", ")
        let canUpdate = who.allows(.updateRequest)
        context["can_update"] = canUpdate
        context["uploaders"] = d.uploaders.map { ["name": $0.name, "email": $0.email] }
        if canUpdate {
            context["form"] = (form ?? DataSetForm(d)).context(errors: Self.firstErrors(errors))
            context["action"] = Self.dataSetPath(id, dsid)
            context["submit"] = "Save changes"
        }
        if who.allows(.manageWriteTokens) {
            context["can_tokens"] = true
            context["token_name"] = tokenName
            context.put("token_name_error", Self.firstErrors(errors)["token_name"])
            context["tokens"] = try await writes.listTokens(dataSetID: dsid, by: who).map { t -> [String: Any] in
                [
                    "id": t.id.lowercasedString, "short_id": String(t.id.lowercasedString.prefix(8)), "name": t.name.isEmpty ? "—" : t.name,
                    "created": London.dateTimeText(t.createdAt), "created_by": t.createdBy ?? "",
                    "last_used": t.lastUsedAt.map(London.dateTimeText) ?? "Never",
                    "state": t.revokedAt.map { "Revoked \(London.dateTimeText($0))" } ?? "Active", "can_revoke": t.revokedAt == nil,
                ]
            }
        }
        context.put(
            "notice",
            [
                "created": "Data set added. Each uploader has been emailed an upload link.", "updated": "Changes saved.",
                "resent": "Upload link sent.", "resend_already": "An upload link was sent to that address a moment ago.",
                "resend_suppressed": "That address is on the suppression list: nothing was sent.", "revoked": "Write token revoked.",
            ][notice ?? ""])
        return pages.page("staff_data_set", context, status: status)
    }
}

extension DataSetForm {
    /// Adds a blank row when the post asked for one ("Add another …"); true when it did.
    mutating func addRow(_ action: String?) -> Bool {
        switch action {
        case "add_uploader":
            if uploaders.count < Self.maxRows { uploaders.append(("", "")) }
        case "add_field":
            if fields.count < Self.maxRows { fields.append(("", FieldType.number.rawValue)) }
        default: return false
        }
        return true
    }
}
