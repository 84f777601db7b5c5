import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/staff/bulk`: the triage board's actions on the rows selected (assign, withdraw with a reason).
/// A confirmation page lists what will change and what cannot, from the same engine and permission
/// table as the API; then each row changes in a transaction of its own, at the version shown.
extension StaffPages {
    enum BulkAction: String {
        case assign, withdraw
    }

    func registerBulk(_ r: PageRoutes) {
        r.on(.post, "/staff/bulk") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard StaffService.constantTimeEquals(Array((form["csrf"] ?? "").utf8), Array(csrf.utf8)) else { return forbiddenForm() }
                let ids = Self.selected(form, prefix: "select_")
                let action = form["bulk"].flatMap(BulkAction.init(rawValue:))
                var problems: [String] = []
                if ids.isEmpty { problems.append("Select at least one request") }
                if action == nil { problems.append("Select what to do with the selected requests") }
                let assignee = (form["assignee"] ?? "").trimmingCharacters(in: .whitespaces)
                let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                if action == .assign, !assignee.isEmpty, FieldRules.emailProblem(assignee) != nil {
                    problems.append("Enter the assignee's email address in the correct format, or leave it empty to assign to yourself")
                }
                if action == .withdraw, reason.isEmpty { problems.append("Enter why the requests are withdrawn") }
                guard problems.isEmpty, let action else {
                    return pages.page(
                        "message",
                        base(who, csrf, title: "Nothing was changed").merging(
                            ["paragraphs": problems + ["Go back to the board, select requests and choose what to do."]]) { $1 },
                        status: .unprocessableContent)
                }
                var will: [[String: Any]] = []
                var cannot: [[String: String]] = []
                for id in ids {
                    let record: RequestRecord
                    do { record = try await requests.get(id, by: who) } catch ServiceError.notFound { continue }
                    let name = record.checklist.serviceName ?? "(no name yet)"
                    if let why = Self.bulkRefusal(action, record, who) {
                        cannot.append(["service": name, "reference": record.reference, "why": why])
                    } else {
                        will.append(["service": name, "reference": record.reference, "id": id.lowercasedString, "version": record.version])
                    }
                }
                let to = assignee.isEmpty ? (who.email ?? "") : assignee
                var c = base(who, csrf, title: action == .assign ? "Assign \(will.count) requests to \(to)" : "Withdraw \(will.count) requests")
                c["will"] = will
                c["cannot"] = cannot
                c["has_will"] = !will.isEmpty
                c["has_cannot"] = !cannot.isEmpty
                c["bulk"] = action.rawValue
                c["assignee"] = to
                c["reason"] = reason
                c["what"] = action == .assign ? "Will be assigned to \(to)" : "Will be withdrawn: \(reason)"
                return pages.page("staff_bulk", c)
            }
        }
        r.on(.post, "/staff/bulk/apply") { request, context in
            let form = try await request.formBody(context: context)
            return try await signedIn(request) { who, csrf in
                guard StaffService.constantTimeEquals(Array((form["csrf"] ?? "").utf8), Array(csrf.utf8)) else { return forbiddenForm() }
                guard let action = form["bulk"].flatMap(BulkAction.init(rawValue:)) else { return notFound() }
                var results: [[String: String]] = []
                for id in Self.selected(form, prefix: "row_") {
                    let version = Int(form["row_\(id.lowercasedString)"] ?? "") ?? 0
                    var row = ["reference": id.lowercasedString, "service": ""]
                    do {
                        let r: RequestRecord
                        switch action {
                        case .assign:
                            r = try await requests.update(
                                id, .object(["assignee": .string(form["assignee"] ?? "")]), expectedVersion: version, by: who)
                        case .withdraw:
                            r = try await requests.transition(
                                id, .withdraw, .object(["reason": .string(form["reason"] ?? "")]), expectedVersion: version, by: who)
                        }
                        row = ["reference": r.reference, "service": r.checklist.serviceName ?? "", "outcome": "Done"]
                    } catch let e as ServiceError {
                        if let r = try? await requests.get(id, by: who) {
                            row = ["reference": r.reference, "service": r.checklist.serviceName ?? ""]
                        }
                        if case .stale = e {
                            row["outcome"] = "Not changed: it changed since you looked"
                        } else {
                            row["outcome"] = "Not changed: " + Self.messages(e).joined(separator: "; ")
                        }
                    }
                    results.append(row)
                }
                var c = base(who, csrf, title: "Bulk \(action == .assign ? "assignment" : "withdrawal")")
                c["results"] = results
                return pages.page("staff_bulk_done", c)
            }
        }
    }

    /// Why `action` cannot be done to `r` by `who` now, or nil when it can.
    static func bulkRefusal(_ action: BulkAction, _ r: RequestRecord, _ who: Principal) -> String? {
        switch action {
        case .withdraw:
            guard TransitionEngine.firable(on: r.snapshot, by: who.actor).contains(where: { $0.name == .withdraw }) else {
                return r.state.isFinal ? "It is \(r.state.title.lowercased()): it cannot be withdrawn" : "Your role cannot withdraw it"
            }
            return nil
        case .assign:
            guard Permissions.allows(who.actor, .updateRequest) else { return "Your role cannot assign requests" }
            return r.state.isFinal ? "It is \(r.state.title.lowercased()) and can no longer be changed" : nil
        }
    }

    /// The request ids a form names by `<prefix><id>` fields (at most one page of the board's 50).
    static func selected(_ form: [String: String], prefix: String) -> [UUID] {
        Array(
            form.keys.filter { $0.hasPrefix(prefix) }.compactMap { UUID(uuidString: String($0.dropFirst(prefix.count))) }.sorted {
                $0.uuidString < $1.uuidString
            }.prefix(50))
    }
}
