/// The eight pieces of information a service team owes (DESIGN §2).
public enum ItemName: String, CaseIterable, Codable, Sendable, Comparable {
    case contact
    case signOffContact = "sign_off_contact"
    case service
    case costPerTransaction = "cost_per_transaction"
    case userSatisfaction = "user_satisfaction"
    case completionRate = "completion_rate"
    case digitalTakeUp = "digital_take_up"
    case serviceAvailability = "service_availability"

    public static func < (a: ItemName, b: ItemName) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Headings as the service contact sees them.
    public var title: String {
        switch self {
        case .contact: return "Service contact"
        case .signOffContact: return "Sign-off contact"
        case .service: return "About the service"
        case .costPerTransaction: return "Cost per transaction"
        case .userSatisfaction: return "User satisfaction"
        case .completionRate: return "Completion rate"
        case .digitalTakeUp: return "Digital take-up"
        case .serviceAvailability: return "Service availability"
        }
    }

    /// Whether the service may say it does not capture this (contacts and the service itself are always owed).
    public var mayBeUnavailable: Bool {
        switch self {
        case .contact, .signOffContact, .service: return false
        default: return true
        }
    }
}

public enum RequestKind: String, CaseIterable, Codable, Sendable {
    case transactional
    case nonTransactional = "non_transactional"

    /// Transactional dashboards need all eight; others only the contacts and the service description.
    public var requiredItems: [ItemName] {
        switch self {
        case .transactional: return ItemName.allCases
        case .nonTransactional: return [.contact, .signOffContact, .service]
        }
    }
}

public enum ItemStatus: String, CaseIterable, Codable, Sendable {
    case missing
    case provided
    case notAvailable = "not_available"
}

/// One item's state: the validated value when provided, the reason when not available.
public struct ChecklistItem: Sendable, Equatable, Codable {
    public var status: ItemStatus
    public var value: JSONValue?
    public var reason: String?

    public init(status: ItemStatus, value: JSONValue? = nil, reason: String? = nil) {
        self.status = status
        self.value = value
        self.reason = reason
    }

    public static let missing = ChecklistItem(status: .missing)
}

/// The checklist of one request: every item always present (missing by default).
public struct Checklist: Sendable, Equatable {
    public private(set) var items: [ItemName: ChecklistItem]

    public init(_ items: [ItemName: ChecklistItem] = [:]) {
        var all: [ItemName: ChecklistItem] = [:]
        for name in ItemName.allCases { all[name] = items[name] ?? .missing }
        self.items = all
    }

    public subscript(name: ItemName) -> ChecklistItem {
        get { items[name] ?? .missing }
        set { items[name] = newValue }
    }

    /// Required items that are neither provided nor declared not available.
    public func unsettledRequiredItems(for kind: RequestKind) -> [ItemName] {
        kind.requiredItems.filter { self[$0].status == .missing }
    }

    public func isComplete(for kind: RequestKind) -> Bool { unsettledRequiredItems(for: kind).isEmpty }

    /// The sign-off owner's email, when the sign-off contact is provided.
    public var signOffEmail: String? { self[.signOffContact].value?["email"]?.stringValue }
    public var contactEmail: String? { self[.contact].value?["email"]?.stringValue }
    public var serviceName: String? { self[.service].value?["name"]?.stringValue }
    public var serviceDescription: String? { self[.service].value?["description"]?.stringValue }
}

/// Optional modules a Google Analytics service may add to its dashboard.
public enum OptionalModule: String, CaseIterable, Codable, Sendable {
    case usersRightNow = "users_right_now"
    case deviceBrowserMix = "device_browser_mix"
    case newVsReturning = "new_vs_returning"
    case helpTextUsage = "help_text_usage"
}

public enum AnalyticsProvider: String, CaseIterable, Codable, Sendable {
    case googleAnalytics = "google_analytics"
    case webtrends, piwik, other
}
