import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// Admins' control of webhook subscriptions: create (the signing secret is returned then, once,
/// and stored only sealed), read, change, enable or disable, delete, and see and replay deliveries.
public struct WebhookService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    public let settings: WebhookSettings

    public init(db: PostgresClient, time: any TimeSource, logger: Logger, settings: WebhookSettings) {
        self.db = db
        self.time = time
        self.logger = logger
        self.settings = settings
    }

    /// The longest target URL accepted.
    public static let maxURLLength = 2000

    public func list(by who: Principal) async throws -> [WebhookSubscription] {
        try who.require(.manageWebhooks)
        return try await WebhookStore.list(on: db, logger: logger)
    }

    public func get(_ id: UUID, by who: Principal) async throws -> WebhookSubscription {
        try who.require(.manageWebhooks)
        guard let s = try await WebhookStore.fetch(id, on: db, logger: logger) else { throw ServiceError.notFound("webhook") }
        return s
    }

    /// Deliveries by status, for the page.
    public func counts(_ id: UUID, by who: Principal) async throws -> [WebhookDeliveryStatus: Int] {
        try who.require(.manageWebhooks)
        return try await WebhookStore.counts(id, on: db, logger: logger)
    }

    public struct Input: Sendable {
        public var url: String?
        public var description: String?
        public var eventTypes: [WebhookEventType]?
        public var enabled: Bool?
    }

    /// Creates a subscription; the secret (`whsec_…`) is in this answer only.
    public func create(_ body: JSONValue, by who: Principal) async throws -> (WebhookSubscription, secret: String) {
        try who.require(.manageWebhooks)
        let input = try parse(body, creating: true)
        guard let key = settings.secretKey else {
            throw ServiceError.conflict(
                "webhooks need a secret key to seal their signing secrets: set CALLBOARD_SECRET_KEY_FILE (see docs/security.md)")
        }
        let now = time.now()
        let sub = WebhookSubscription(
            id: UUID(), url: input.url!, description: input.description ?? "", eventTypes: input.eventTypes!, enabled: input.enabled ?? true,
            createdBy: who.actorID, createdAt: now, updatedAt: now)
        let secret = WebhookSignature.newSecret()
        try await WebhookStore.insert(sub, secret: try key.seal(secret, context: sub.id), on: db, logger: logger)
        return (sub, secret)
    }

    public func update(_ id: UUID, _ body: JSONValue, by who: Principal) async throws -> WebhookSubscription {
        try who.require(.manageWebhooks)
        let input = try parse(body, creating: false)
        guard
            let s = try await WebhookStore.update(
                id, url: input.url, description: input.description, eventTypes: input.eventTypes, enabled: input.enabled,
                disabledReason: who.email.map { "disabled by \($0)" } ?? "disabled", at: time.now(), on: db, logger: logger)
        else { throw ServiceError.notFound("webhook") }
        return s
    }

    public func setEnabled(_ id: UUID, _ enabled: Bool, by who: Principal) async throws -> WebhookSubscription {
        try await update(id, .object(["enabled": .bool(enabled)]), by: who)
    }

    public func delete(_ id: UUID, by who: Principal) async throws {
        try who.require(.manageWebhooks)
        guard try await WebhookStore.delete(id, on: db, logger: logger) else { throw ServiceError.notFound("webhook") }
    }

    /// A subscription's deliveries, newest first, each with its attempts.
    public func deliveries(_ id: UUID, cursor: ListCursor?, limit: Int, by who: Principal) async throws
        -> (deliveries: [WebhookDelivery], attempts: [UUID: [WebhookAttempt]], next: ListCursor?)
    {
        _ = try await get(id, by: who)
        let page = try await WebhookStore.deliveries(id, after: cursor, limit: limit, on: db, logger: logger)
        return (page.deliveries, try await WebhookStore.attempts(page.deliveries.map(\.id), on: db, logger: logger), page.next)
    }

    /// Queues a finished delivery again, with the same `webhook-id` and a fresh set of attempts.
    public func replay(_ id: UUID, delivery deliveryID: UUID, by who: Principal) async throws -> WebhookDelivery {
        _ = try await get(id, by: who)
        guard
            let (d, changed) = try await WebhookStore.replay(
                deliveryID, subscriptionID: id, attempts: settings.retry.maxAttempts, at: time.now(), on: db, logger: logger)
        else { throw ServiceError.notFound("delivery") }
        if !changed { throw ServiceError.conflict("only delivered, failed or dead deliveries can be replayed; this one is \(d.status.rawValue)") }
        return d
    }

    func parse(_ body: JSONValue, creating: Bool) throws(ServiceError) -> Input {
        var errors = ErrorCollector()
        var input = Input()
        if var r = ObjectReader(body, at: "", errors: &errors) {
            if let url = r.string("url", required: creating, maxLength: Self.maxURLLength, singleLine: true) {
                if let problem = Self.urlProblem(url, allowHTTP: settings.allowHTTP, allowPrivate: settings.allowPrivate) {
                    r.errors.add("/url", problem)
                } else {
                    input.url = url
                }
            }
            input.description = r.string("description", required: false, maxLength: 200, singleLine: true)
            if r.has("description"), input.description == nil, r.raw("description")?.stringValue != nil { input.description = "" }
            if let list = r.array("event_types", required: creating) {
                var types: [WebhookEventType] = []
                var valid = !list.isEmpty
                for (i, v) in list.enumerated() {
                    guard let s = v.stringValue, let t = WebhookEventType(rawValue: s) else {
                        r.errors.add(
                            "/event_types/\(i)", "must be one of: \(WebhookEventType.allCases.map(\.rawValue).joined(separator: ", "))")
                        valid = false
                        continue
                    }
                    if !types.contains(t) { types.append(t) }
                }
                if list.isEmpty { r.errors.add("/event_types", "must name at least one event type") }
                if valid { input.eventTypes = types.sorted() }
            }
            input.enabled = r.bool("enabled", required: false)
            errors.add(contentsOf: r.finish())
        }
        guard errors.errors.isEmpty else { throw .validation(errors.errors) }
        return input
    }

    /// Why `raw` cannot be a target; nil when it can. The address is checked again, resolved, at every send.
    public static func urlProblem(_ raw: String, allowHTTP: Bool, allowPrivate: Bool) -> String? {
        guard let c = URLComponents(string: raw), let scheme = c.scheme?.lowercased(), let host = c.host, !host.isEmpty else {
            return "must be an absolute URL, like https://example.com/callboard-events"
        }
        if scheme != "https", !(allowHTTP && scheme == "http") {
            return allowHTTP ? "must be an http or https URL" : "must be an https URL (http is only accepted with CALLBOARD_WEBHOOKS_ALLOW_HTTP=true)"
        }
        if c.user != nil || c.password != nil { return "must not carry a user name or password" }
        if c.fragment != nil { return "must not have a fragment (#…)" }
        if !allowPrivate {
            let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
            if bare.lowercased() == "localhost" || bare.lowercased().hasSuffix(".localhost") {
                return "must not point at this machine (localhost)"
            }
            if AddressPolicy.parseIPv4(bare) != nil || AddressPolicy.parseIPv6(bare) != nil, let why = AddressPolicy.refusal(bare) {
                return "must not point at a private, loopback or link-local address (\(bare) \(why))"
            }
        }
        return nil
    }
}
