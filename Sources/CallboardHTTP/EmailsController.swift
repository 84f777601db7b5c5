import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/api/v1/emails…` and `/api/v1/suppressions…`: staff see, retry and cancel emails.
struct EmailsController {
    let emails: EmailService

    func register(_ r: CatalogedRoutes) {
        r.on(.get, "/emails") { request, context in
            let q = request.uri.queryParameters
            var errors = ErrorCollector()
            var filter = EmailStore.Filter()
            for (key, _) in q where !["status", "request_id", "recipient", "limit", "cursor"].contains(String(key)) {
                errors.add("/query/\(key)", "is not a filter; filters are: cursor, limit, recipient, request_id, status")
            }
            if let s = q.get("status") {
                filter.status = EmailStatus(rawValue: s)
                if filter.status == nil { errors.add("/query/status", "must be one of: " + EmailStatus.allCases.map(\.rawValue).joined(separator: ", ")) }
            }
            if let s = q.get("request_id") {
                filter.requestID = UUID(uuidString: s)
                if filter.requestID == nil { errors.add("/query/request_id", "must be a request id") }
            }
            if let s = q.get("recipient") {
                if s.unicodeScalars.contains("\u{0}") { errors.add("/query/recipient", "must not contain the NUL character") } else { filter.recipient = s }
            }
            var cursor: ListCursor?
            if let c = q.get("cursor") {
                cursor = ListCursor(encoded: c)
                if cursor == nil { errors.add("/query/cursor", "is not a cursor this API gave") }
            }
            var limit = 50
            do { limit = try request.uri.limit() } catch let p as Problem { errors.add(contentsOf: p.errors) }
            if !errors.isEmpty { throw Problem.invalid(errors.errors) }
            let page = try await emails.list(filter, cursor: cursor, limit: limit, by: try context.caller())
            return JSONOutput.response(.object([
                "items": .array(page.emails.map { JSONOutput.email($0) }),
                "next_cursor": JSONOutput.string(page.next?.encoded),
            ]))
        }
        r.on(.get, "/emails/:id") { _, context in
            let (e, attempts) = try await emails.get(try context.parameters.uuid("id", what: "email"), by: try context.caller())
            return JSONOutput.response(JSONOutput.email(e, attempts: attempts))
        }
        r.on(.post, "/emails/:id/retry") { _, context in
            let e = try await emails.retry(try context.parameters.uuid("id", what: "email"), by: try context.caller())
            return JSONOutput.response(JSONOutput.email(e))
        }
        r.on(.post, "/emails/:id/cancel") { _, context in
            let e = try await emails.cancel(try context.parameters.uuid("id", what: "email"), by: try context.caller())
            return JSONOutput.response(JSONOutput.email(e))
        }
        r.on(.get, "/suppressions") { _, context in
            let list = try await emails.suppressions(by: try context.caller())
            return JSONOutput.response(.object(["items": .array(list.map {
                .object(["address": .string($0.address), "reason": .string($0.reason), "created_at": JSONOutput.date($0.createdAt)])
            })]))
        }
        r.on(.post, "/suppressions") { request, context in
            var request = request
            let body = try await request.requiredJSONBody(context: context)
            let address = try await emails.suppress(body, by: try context.caller())
            return JSONOutput.response(.object(["address": .string(address)]), status: .created)
        }
        r.on(.delete, "/suppressions/:address") { _, context in
            guard let address = context.parameters.get("address")?.removingPercentEncoding else { throw Problem.notFound("suppressed address") }
            try await emails.unsuppress(address, by: try context.caller())
            return Response(status: .noContent)
        }
    }
}
