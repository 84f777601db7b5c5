import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore

/// `/api/v1/requests…`: dashboard requests, their transitions, comments and history.
struct RequestsController {
    let requests: RequestService

    func register(_ r: CatalogedRoutes) {
        r.on(.post, "/requests") { request, context in
            var request = request
            let body = try await request.requiredJSONBody(context: context)
            let who = try context.caller()
            let record = try await requests.create(body, by: who)
            return JSONOutput.response(JSONOutput.request(record, for: who), status: .created,
                                       headers: [.eTag: ETag.make(record.version), .location: "/api/v1/requests/\(record.id.uuidString.lowercased())"])
        }
        r.on(.get, "/requests") { request, context in
            let who = try context.caller()
            let (filter, cursor, limit) = try parseListQuery(request.uri)
            let page = try await requests.list(filter, cursor: cursor, limit: limit, by: who)
            return JSONOutput.response(.object([
                "items": .array(page.records.map(JSONOutput.summary)),
                "next_cursor": JSONOutput.string(page.next?.encoded),
            ]))
        }
        r.on(.get, "/requests/:id") { request, context in
            let who = try context.caller()
            let record = try await requests.get(try context.parameters.uuid("id", what: "request"), by: who)
            return JSONOutput.response(JSONOutput.request(record, for: who), headers: [.eTag: ETag.make(record.version)])
        }
        r.on(.patch, "/requests/:id") { request, context in
            var request = request
            let id = try context.parameters.uuid("id", what: "request")
            let version = try request.expectedVersion()
            let body = try await request.requiredJSONBody(context: context)
            let who = try context.caller()
            let record = try await requests.update(id, body, expectedVersion: version, by: who)
            return JSONOutput.response(JSONOutput.request(record, for: who), headers: [.eTag: ETag.make(record.version)])
        }
        r.on(.post, "/requests/:id/transitions/:name") { request, context in
            var request = request
            let id = try context.parameters.uuid("id", what: "request")
            guard let name = context.parameters.get("name").flatMap(TransitionName.init(rawValue:)) else {
                throw Problem(.notFound, type: "unknown-transition", title: "Unknown transition",
                              detail: "Transitions are: " + TransitionName.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let version = try request.expectedVersion()
            let body = try await request.jsonBody(context: context)
            let who = try context.caller()
            let record = try await requests.transition(id, name, body, expectedVersion: version, by: who)
            return JSONOutput.response(JSONOutput.request(record, for: who), headers: [.eTag: ETag.make(record.version)])
        }
        r.on(.post, "/requests/:id/comments") { request, context in
            var request = request
            let id = try context.parameters.uuid("id", what: "request")
            let body = try await request.requiredJSONBody(context: context)
            let event = try await requests.comment(id, body, by: try context.caller())
            return JSONOutput.response(JSONOutput.event(event), status: .created)
        }
        r.on(.get, "/requests/:id/events") { request, context in
            let id = try context.parameters.uuid("id", what: "request")
            let limit = try request.uri.limit()
            var after: Int64 = 0
            if let c = request.uri.queryParameters.get("cursor") {
                guard let n = Int64(c), n >= 0 else {
                    throw Problem.invalid([FieldError(pointer: "/query/cursor", message: "is not a cursor this API gave")])
                }
                after = n
            }
            let page = try await requests.events(id, afterID: after, limit: limit, by: try context.caller())
            return JSONOutput.response(.object([
                "items": .array(page.events.map(JSONOutput.event)),
                "next_cursor": page.next.map { .string(String($0)) } ?? .null,
            ]))
        }
    }

    /// Filters: state (comma-separated), kind, assignee (email or `none`), missing, department, q; limit; cursor.
    func parseListQuery(_ uri: URI) throws -> (RequestFilter, ListCursor?, Int) {
        let q = uri.queryParameters
        var errors = ErrorCollector()
        var filter = RequestFilter()
        let known: Set<String> = ["state", "kind", "assignee", "missing", "department", "q", "limit", "cursor"]
        for (key, _) in q where !known.contains(String(key)) {
            errors.add("/query/\(key)", "is not a filter; filters are: " + known.sorted().joined(separator: ", "))
        }
        for (key, value) in q where value.unicodeScalars.contains("\u{0}") {
            errors.add("/query/\(key)", "must not contain the NUL character")
        }
        if let s = q.get("state") {
            if s.isEmpty { errors.add("/query/state", "must be one of: " + RequestState.allCases.map(\.rawValue).joined(separator: ", ")) }
            for part in s.split(separator: ",") {
                if let st = RequestState(rawValue: String(part)) { filter.states.append(st) }
                else { errors.add("/query/state", "must be one of: " + RequestState.allCases.map(\.rawValue).joined(separator: ", ")) }
            }
        }
        if let k = q.get("kind") {
            if let kind = RequestKind(rawValue: k) { filter.kind = kind }
            else { errors.add("/query/kind", "must be one of: " + RequestKind.allCases.map(\.rawValue).joined(separator: ", ")) }
        }
        if let m = q.get("missing") {
            if let item = ItemName(rawValue: m) { filter.missing = item }
            else { errors.add("/query/missing", "must be one of: " + ItemName.allCases.map(\.rawValue).joined(separator: ", ")) }
        }
        if let a = q.get("assignee") {
            if a == "none" { filter.unassigned = true }
            else if FieldRules.emailProblem(a) == nil { filter.assigneeEmail = a }
            else { errors.add("/query/assignee", "must be a staff email, or none for unassigned requests") }
        }
        // Free text may arrive form-encoded, with + for a space.
        if let d = q.get("department")?.replacingOccurrences(of: "+", with: " "), !d.isEmpty, !d.contains("\u{0}") { filter.department = d }
        if let text = q.get("q")?.replacingOccurrences(of: "+", with: " "), !text.contains("\u{0}") {
            if text.count > 200 { errors.add("/query/q", "must be at most 200 characters") }
            else if !text.trimmingCharacters(in: .whitespaces).isEmpty { filter.text = text }
        }
        var cursor: ListCursor?
        if let c = q.get("cursor") {
            cursor = ListCursor(encoded: c)
            if cursor == nil { errors.add("/query/cursor", "is not a cursor this API gave") }
        }
        var limit = 50
        do { limit = try uri.limit() } catch let p as Problem { errors.add(contentsOf: p.errors) }
        if !errors.isEmpty { throw Problem.invalid(errors.errors) }
        return (filter, cursor, limit)
    }
}
