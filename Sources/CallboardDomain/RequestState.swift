/// Where a dashboard request is in its life (DESIGN §3).
public enum RequestState: String, CaseIterable, Codable, Sendable {
    case requested
    case infoComplete = "info_complete"
    case signoffPending = "signoff_pending"
    case built
    case previewPublished = "preview_published"
    case live
    case productAudit = "product_audit"
    case withdrawn

    /// No transition leaves a final state.
    public var isFinal: Bool { self == .withdrawn }

    public var title: String {
        switch self {
        case .requested: return "Requested"
        case .infoComplete: return "Information complete"
        case .signoffPending: return "Sign-off pending"
        case .built: return "Built"
        case .previewPublished: return "Preview published"
        case .live: return "Live"
        case .productAudit: return "Product audit"
        case .withdrawn: return "Withdrawn"
        }
    }
}

/// The sign-off owner's decision on publication, recorded while sign-off is pending.
public enum SignOffDecision: String, CaseIterable, Codable, Sendable {
    case approved
    case changesRequested = "changes_requested"
}

public enum AuditOutcome: String, CaseIterable, Codable, Sendable {
    case passed
    case actionsAgreed = "actions_agreed"
    case failed
}
