import Foundation

/// The front door's questions, one a page, in order: the kind of service, the organisation, then
/// the items the kind needs (contacts and the service first). What every step is, what may be
/// skipped, and what must be answered before an application can be sent.
public enum ApplyStep: String, CaseIterable, Sendable {
    case kind
    case organisation
    case contact
    case signOffContact = "sign_off_contact"
    case service
    case costPerTransaction = "cost_per_transaction"
    case userSatisfaction = "user_satisfaction"
    case completionRate = "completion_rate"
    case digitalTakeUp = "digital_take_up"
    case serviceAvailability = "service_availability"

    /// The checklist item a step answers (none for the kind and the organisation).
    public var item: ItemName? { ItemName(rawValue: rawValue) }

    public init?(_ item: ItemName) { self.init(rawValue: item.rawValue) }

    /// The steps an application of `kind` goes through (before the kind is known, a non-transactional one's).
    public static func steps(for kind: RequestKind?) -> [ApplyStep] {
        [.kind, .organisation] + (kind ?? .nonTransactional).requiredItems.compactMap(ApplyStep.init)
    }

    /// Needed before the application can be sent: who to talk to, who signs off, and what the service is.
    public var isRequired: Bool { [.kind, .organisation, .contact, .signOffContact, .service].contains(self) }

    public func next(for kind: RequestKind?) -> ApplyStep? {
        let steps = Self.steps(for: kind)
        guard let i = steps.firstIndex(of: self), i + 1 < steps.count else { return nil }
        return steps[i + 1]
    }

    public func previous(for kind: RequestKind?) -> ApplyStep? {
        let steps = Self.steps(for: kind)
        guard let i = steps.firstIndex(of: self), i > 0 else { return nil }
        return steps[i - 1]
    }

    public var title: String {
        switch self {
        case .kind: return "Is your service transactional?"
        case .organisation: return "Your organisation"
        case .contact: return "Your contact details"
        case .signOffContact: return "Who will sign off the dashboard?"
        case .service: return "Tell us about your service"
        default: return item!.title
        }
    }
}

/// Who may apply: an address in one of the allowed domains, or a subdomain of one.
public enum ApplyRules {
    public static func domainAllowed(_ email: String, _ domains: [String]) -> Bool {
        guard let at = email.lastIndex(of: "@") else { return false }
        let domain = email[email.index(after: at)...].lowercased()
        return domains.contains { domain == $0 || domain.hasSuffix("." + $0) }
    }

    /// A start page address as duplicates are compared: lower case, no trailing slash, no fragment.
    public static func comparableURL(_ url: String) -> String {
        var u = url.trimmingCharacters(in: .whitespaces).lowercased()
        if let hash = u.firstIndex(of: "#") { u = String(u[..<hash]) }
        while u.hasSuffix("/") { u.removeLast() }
        return u
    }
}
