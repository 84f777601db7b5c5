/// Everything an actor may be allowed to do. Transitions come from the lifecycle table;
/// the rest are declared once below. Anything not granted is denied.
public enum Action: Hashable, Sendable {
    case readRequests
    case createRequest
    case updateRequest
    case supplyItems
    case comment
    case fire(TransitionName)
    case manageStaff
    case manageTokens
    case manageEmails
    /// A data set's write-API tokens (create, list, revoke); the tokens themselves are shown once.
    case manageWriteTokens
    /// Email bodies (links in them are always redacted); viewers see only who was sent what, when.
    case readEmailBodies
    /// Webhook subscriptions and their deliveries (admin only: a target URL receives events).
    case manageWebhooks
    /// Contact names, emails and phone numbers in the CSV exports (viewers get those cells empty).
    case readContactDetails

    public var name: String {
        switch self {
        case .readRequests: return "read_requests"
        case .createRequest: return "create_request"
        case .updateRequest: return "update_request"
        case .supplyItems: return "supply_items"
        case .comment: return "comment"
        case .fire(let t): return "fire:\(t.rawValue)"
        case .manageStaff: return "manage_staff"
        case .manageTokens: return "manage_tokens"
        case .manageEmails: return "manage_emails"
        case .manageWriteTokens: return "manage_write_tokens"
        case .readEmailBodies: return "read_email_bodies"
        case .manageWebhooks: return "manage_webhooks"
        case .readContactDetails: return "read_contact_details"
        }
    }

    public static var all: [Action] {
        [
            .readRequests, .createRequest, .updateRequest, .supplyItems, .comment, .manageStaff, .manageTokens, .manageEmails, .manageWriteTokens,
            .readEmailBodies, .manageWebhooks, .readContactDetails,
        ]
            + TransitionName.allCases.map { .fire($0) }
    }
}

public enum Permissions {
    /// Grants other than transitions (those live in `Lifecycle.table`).
    private static let grants: [ActorKind: Set<Action>] = [
        .admin: [
            .readRequests, .createRequest, .updateRequest, .supplyItems, .comment, .manageStaff, .manageTokens, .manageEmails, .manageWriteTokens,
            .readEmailBodies, .manageWebhooks, .readContactDetails,
        ],
        .triager: [
            .readRequests, .createRequest, .updateRequest, .supplyItems, .comment, .manageEmails, .manageWriteTokens, .readEmailBodies,
            .readContactDetails,
        ],
        .viewer: [.readRequests],
        .serviceContact: [.supplyItems],
    ]

    public static func allows(_ actor: ActorKind, _ action: Action) -> Bool {
        if case .fire(let name) = action { return Lifecycle.definition(name).actors.contains(actor) }
        return grants[actor]?.contains(action) ?? false
    }

    /// The whole matrix (actor × action), for the workflow document and the docs.
    public static var matrix: [(actor: ActorKind, actions: [Action])] {
        ActorKind.allCases.map { actor in (actor, Action.all.filter { allows(actor, $0) }) }
    }
}
