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
            var q = QueryReader(request.uri, allowed: ["status", "request_id", "recipient"])
            var filter = EmailStore.Filter()
            filter.status = q.choice("status", EmailStatus.self)
            if let s = q.string("request_id") {
                filter.requestID = UUID(uuidString: s)
                if filter.requestID == nil { q.errors.add("/query/request_id", "must be a request id") }
            }
            filter.recipient = q.string("recipient")
            let cursor = q.cursor(ListCursor.init(encoded:))
            let limit = q.limit()
            try q.finish()
            let page = try await emails.list(filter, cursor: cursor, limit: limit, by: try context.caller())
            return JSONOutput.response(
                .object([
                    "items": .array(page.emails.map { JSONOutput.email($0) }),
                    "next_cursor": JSONOutput.string(page.next?.encoded),
                ]))
        }
        r.on(.get, "/emails/:id") { _, context in
            let (e, attempts, bodyVisible) = try await emails.get(try context.parameters.uuid("id", what: "email"), by: try context.caller())
            return JSONOutput.response(JSONOutput.email(e, attempts: attempts, body: bodyVisible))
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
            return JSONOutput.response(
                .object([
                    "items": .array(
                        list.map {
                            .object(["address": .string($0.address), "reason": .string($0.reason), "created_at": JSONOutput.date($0.createdAt)])
                        })
                ]))
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
