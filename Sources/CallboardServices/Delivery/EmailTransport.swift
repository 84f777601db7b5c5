import CallboardStorage
import Foundation

/// What a transport needs to deliver one email.
public struct OutgoingEmail: Sendable {
    public var id: UUID
    public var messageID: String
    public var from: String
    public var to: String
    public var subject: String
    public var text: String
    public var html: String
    public var kind: String
    public var templateData: [String: String]
    public var date: Date

    /// The email as it leaves: each link placeholder replaced by the token minted for this send
    /// (`links`, by link id). Only here, in memory, does the email hold a usable secret.
    public init(_ e: EmailRecord, from: String, links: [UUID: String] = [:]) {
        id = e.id
        messageID = e.messageID
        self.from = from
        to = e.recipient
        subject = e.subject
        text = LinkPlaceholder.substitute(e.bodyText, tokens: links)
        html = LinkPlaceholder.substitute(e.bodyHTML, tokens: links)
        kind = e.kind
        date = e.createdAt
        var data: [String: String] = [:]
        if case .object(let o) = e.templateData {
            for (k, v) in o { if let s = v.stringValue { data[k] = LinkPlaceholder.substitute(s, tokens: links) } }
        }
        templateData = data
    }
}

/// How a delivery attempt failed; decides retry, stop, or check-before-resend.
public enum DeliveryError: Error, Sendable, Equatable {
    /// Try again later (4xx SMTP reply, connection refused, Notify 500).
    case temporary(String)
    /// Never try again (5xx SMTP reply, Notify 400/403); `badAddress` adds it to the suppression list.
    case permanent(String, badAddress: Bool)
    /// Try again after this many seconds (Notify 429).
    case rateLimited(retryAfter: Double, String)

    /// The same failure with another message.
    public func replacingMessage(_ m: String) -> DeliveryError {
        switch self {
        case .temporary: return .temporary(m)
        case .permanent(_, let bad): return .permanent(m, badAddress: bad)
        case .rateLimited(let after, _): return .rateLimited(retryAfter: after, m)
        }
    }

    public var message: String {
        switch self {
        case .temporary(let m), .permanent(let m, _), .rateLimited(_, let m): return m
        }
    }
}

/// One way of delivering email (SMTP, GOV.UK Notify, files). Transports are safe to call concurrently.
public protocol EmailTransport: Sendable {
    var name: String { get }
    func send(_ email: OutgoingEmail) async throws(DeliveryError)
    func shutdown() async
}
