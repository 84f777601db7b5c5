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
            return JSONOutput.response(
                bytes: render(record, for: who), status: .created,
                headers: [.eTag: ETag.make(record.version), .location: "/api/v1/requests/\(record.id.lowercasedString)"])
        }
        r.on(.get, "/requests") { request, context in
            let who = try context.caller()
            let (filter, cursor, limit) = try parseListQuery(request.uri)
            let page = try await requests.list(filter, cursor: cursor, limit: limit, by: who)
            return JSONOutput.response(bytes: JSONOutput.listPage(page.records, next: page.next?.encoded, now: requests.now))
        }
        r.on(.get, "/requests/:id") { request, context in
            let who = try context.caller()
            let record = try await requests.get(try context.parameters.uuid("id", what: "request"), by: who)
            return JSONOutput.response(bytes: render(record, for: who), headers: [.eTag: ETag.make(record.version)])
        }
        r.on(.patch, "/requests/:id") { request, context in
            var request = request
            let id = try context.parameters.uuid("id", what: "request")
            let version = try request.expectedVersion()
            let body = try await request.requiredJSONBody(context: context)
            let who = try context.caller()
            let record = try await requests.update(id, body, expectedVersion: version, by: who)
            return JSONOutput.response(bytes: render(record, for: who), headers: [.eTag: ETag.make(record.version)])
        }
        r.on(.post, "/requests/:id/transitions/:name") { request, context in
            var request = request
            let id = try context.parameters.uuid("id", what: "request")
            guard let name = context.parameters.get("name").flatMap(TransitionName.init(rawValue:)) else {
                throw Problem(
                    .notFound, type: "unknown-transition", title: "Unknown transition",
                    detail: "Transitions are: " + TransitionName.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let version = try request.expectedVersion()
            let body = try await request.jsonBody(context: context)
            let who = try context.caller()
            let (record, plan) = try await requests.transitionPlanned(id, name, body, expectedVersion: version, by: who)
            return JSONOutput.response(bytes: render(record, for: who, next: plan.next), headers: [.eTag: ETag.make(record.version)])
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
            var q = QueryReader(request.uri, allowed: [])
            let after = q.cursor { Int64($0).flatMap { $0 >= 0 ? $0 : nil } } ?? 0
            let limit = q.limit()
            try q.finish()
            let page = try await requests.events(id, afterID: after, limit: limit, by: try context.caller())
            return JSONOutput.response(
                .object([
                    "items": .array(page.events.map(JSONOutput.event)),
                    "next_cursor": page.next.map { .string(String($0)) } ?? .null,
                ]))
        }
    }

    /// A request as its caller sees it: the transitions they may fire and the preview promise as of now.
    /// `next`: what a fired transition's plan says the caller may fire now.
    func render(_ record: RequestRecord, for who: Principal, next: [TransitionOption]? = nil) -> [UInt8] {
        JSONOutput.request(record, for: who, sla: JSONOutput.sla(requests.previewSLA(record)), next: next)
    }

    /// The list's filters (the CSV export takes the same): state (comma-separated), kind, assignee
    /// (email or `none`), missing, department, sla, q.
    static let filterParameters = ["state", "kind", "assignee", "missing", "department", "q", "sla"]

    /// Filters; sort; limit; cursor.
    func parseListQuery(_ uri: URI) throws -> (RequestFilter, ListCursor?, Int) {
        var q = QueryReader(uri, allowed: Self.filterParameters + ["sort"])
        var filter = Self.readFilter(&q)
        filter.order = q.choice("sort", RequestOrder.self) ?? .created
        // A cursor belongs to the order it was made in.
        let order = filter.order
        let cursor = q.cursor { ListCursor(encoded: $0).flatMap { c in (c.dueMicros != nil) == (order == .slaDue) ? c : nil } }
        let limit = q.limit()
        try q.finish()
        return (filter, cursor, limit)
    }

    /// Reads `filterParameters`; problems are added to `q.errors`.
    static func readFilter(_ q: inout QueryReader) -> RequestFilter {
        var filter = RequestFilter()
        filter.states = q.choices("state", RequestState.self)
        filter.kind = q.choice("kind", RequestKind.self)
        filter.missing = q.choice("missing", ItemName.self)
        filter.sla = q.choice("sla", SLAFilter.self)
        if let a = q.string("assignee") {
            if a == "none" {
                filter.unassigned = true
            } else if FieldRules.emailProblem(a) == nil {
                filter.assigneeEmail = a
            } else {
                q.errors.add("/query/assignee", "must be a staff email, or none for unassigned requests")
            }
        }
        if let d = q.text("department"), !d.isEmpty { filter.department = d }
        if let text = q.text("q") {
            if text.count > 200 {
                q.errors.add("/query/q", "must be at most 200 characters")
            } else if !text.trimmingCharacters(in: .whitespaces).isEmpty {
                filter.text = text
            }
        }
        return filter
    }
}
