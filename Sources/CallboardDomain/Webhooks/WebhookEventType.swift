/// What a webhook subscription may ask for. Each names a change whose payload carries
/// identifiers and states only (never a name, an address or an item's value).
public enum WebhookEventType: String, CaseIterable, Sendable, Comparable {
    case requestCreated = "request.created"
    case requestTransitioned = "request.transitioned"
    case requestUpdated = "request.updated"
    case emailDead = "email.dead"
    case uploadReceived = "upload.received"
    case promiseBreached = "promise.breached"

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}
