import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/api/v1/webhooks…`: admins manage webhook subscriptions and see and replay their deliveries.
struct WebhooksController {
    let webhooks: WebhookService

    func register(_ r: CatalogedRoutes) {
        r.on(.get, "/webhooks") { _, context in
            let list = try await webhooks.list(by: try context.caller())
            return JSONOutput.response(.object(["items": .array(list.map(Self.subscription))]))
        }
        r.on(.post, "/webhooks") { request, context in
            var request = request
            let body = try await request.requiredJSONBody(context: context)
            let (s, secret) = try await webhooks.create(body, by: try context.caller())
            var o = Self.subscription(s).objectValue ?? [:]
            o["secret"] = .string(secret)
            // no-store: an Idempotency-Key replay is remembered without the secret (IdempotencyMiddleware).
            return JSONOutput.response(
                .object(o), status: .created, headers: [.cacheControl: "no-store", .location: "/api/v1/webhooks/\(s.id.lowercasedString)"])
        }
        r.on(.get, "/webhooks/:id") { _, context in
            let s = try await webhooks.get(try context.parameters.uuid("id", what: "webhook"), by: try context.caller())
            return JSONOutput.response(Self.subscription(s))
        }
        r.on(.patch, "/webhooks/:id") { request, context in
            var request = request
            let body = try await request.requiredJSONBody(context: context)
            let s = try await webhooks.update(try context.parameters.uuid("id", what: "webhook"), body, by: try context.caller())
            return JSONOutput.response(Self.subscription(s))
        }
        r.on(.delete, "/webhooks/:id") { _, context in
            try await webhooks.delete(try context.parameters.uuid("id", what: "webhook"), by: try context.caller())
            return Response(status: .noContent)
        }
        r.on(.get, "/webhooks/:id/deliveries") { request, context in
            var q = QueryReader(request.uri, allowed: [])
            let cursor = q.cursor(ListCursor.init(encoded:))
            let limit = q.limit()
            try q.finish()
            let page = try await webhooks.deliveries(
                try context.parameters.uuid("id", what: "webhook"), cursor: cursor, limit: limit, by: try context.caller())
            return JSONOutput.response(
                .object([
                    "items": .array(page.deliveries.map { Self.delivery($0, attempts: page.attempts[$0.id] ?? []) }),
                    "next_cursor": JSONOutput.string(page.next?.encoded),
                ]))
        }
        r.on(.post, "/webhooks/:id/deliveries/:delivery_id/replay") { _, context in
            let d = try await webhooks.replay(
                try context.parameters.uuid("id", what: "webhook"), delivery: try context.parameters.uuid("delivery_id", what: "delivery"),
                by: try context.caller())
            return JSONOutput.response(Self.delivery(d, attempts: nil), status: .accepted)
        }
    }

    static func subscription(_ s: WebhookSubscription) -> JSONValue {
        .object([
            "id": .string(s.id.lowercasedString), "url": .string(s.url), "description": .string(s.description),
            "event_types": .array(s.eventTypes.map { .string($0.rawValue) }), "enabled": .bool(s.enabled),
            "disabled_reason": JSONOutput.string(s.disabledReason), "created_by": JSONOutput.string(s.createdBy),
            "created_at": JSONOutput.date(s.createdAt), "updated_at": JSONOutput.date(s.updatedAt),
        ])
    }

    static func delivery(_ d: WebhookDelivery, attempts: [WebhookAttempt]?) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(d.id.lowercasedString), "event_type": .string(d.event.type.rawValue),
            "payload": (try? JSONValue.parse(d.event.body)) ?? .null, "status": .string(d.status.rawValue),
            "attempts": .number(Double(d.attempts)), "max_attempts": .number(Double(d.maxAttempts)), "next_attempt_at": JSONOutput.date(d.runAt),
            "last_error": JSONOutput.string(d.lastError), "last_status_code": d.lastStatus.map { .number(Double($0)) } ?? .null,
            "created_at": JSONOutput.date(d.createdAt), "delivered_at": JSONOutput.date(d.deliveredAt),
        ]
        if let attempts {
            o["attempt_log"] = .array(
                attempts.map { a in
                    .object([
                        "attempt": .number(Double(a.attempt)), "worker": .string(a.worker), "started_at": JSONOutput.date(a.startedAt),
                        "finished_at": JSONOutput.date(a.finishedAt), "outcome": .string(a.outcome),
                        "status_code": a.statusCode.map { .number(Double($0)) } ?? .null, "error": JSONOutput.string(a.error),
                        "duration_ms": a.durationMS.map { .number(Double($0)) } ?? .null,
                    ])
                })
        }
        return .object(o)
    }
}
