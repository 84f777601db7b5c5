/// The kinds of email Callboard sends; each has a text and an HTML template of the same name.
public enum EmailKind: String, CaseIterable, Codable, Sendable {
    case signOffRequest = "sign_off_request"
    case signOffDecision = "sign_off_decision"
    case informationReopened = "information_reopened"
    case previewPublished = "preview_published"
    case live
    case withdrawn
    case productAuditStarted = "product_audit_started"
    /// A new request's service contact is asked for the information (with their task-list link).
    case informationRequest = "information_request"
    /// A data set's uploader is told where to upload (with their upload link).
    case uploadInvitation = "upload_invitation"
    /// A staff member's single-use sign-in link for the staff pages.
    case staffSignIn = "staff_sign_in"
    /// The scheduler's reminders for one person, gathered into one email.
    case reminderDigest = "reminder_digest"
    /// The front door: the applicant confirms their address (single-use link, 24 hours).
    case applicationConfirm = "application_confirm"
    /// The front door's "save and come back later" link.
    case applicationResume = "application_resume"
    /// A confirmed application's sign-off owner hears early what they will be asked (no decision link yet).
    case signOffHeadsUp = "sign_off_heads_up"
    /// The team hears of a confirmed application (or of a second one for a service already requested).
    case newApplication = "new_application"
}

/// Who an email goes to, resolved against the request's checklist (or configuration for the team).
public enum Audience: String, CaseIterable, Codable, Sendable {
    case signOffOwner = "sign_off_owner"
    case serviceContact = "service_contact"
    case team
    /// A data set's uploaders (reminders only).
    case uploaders
}

public struct EmailIntent: Sendable, Equatable {
    public var kind: EmailKind
    public var audience: Audience
}

/// Which emails a transition queues: its table effects say who hears, its name says what.
public enum Notifications {
    public static func kind(for transition: TransitionName) -> EmailKind? {
        switch transition {
        case .requestSignOff: return .signOffRequest
        case .approveSignOff, .requestChanges: return .signOffDecision
        case .reopenInformation: return .informationReopened
        case .publishPreview: return .previewPublished
        case .goLive: return .live
        case .withdraw: return .withdrawn
        case .startProductAudit: return .productAuditStarted
        case .completeInformation, .markBuilt, .completeProductAudit: return nil
        }
    }

    public static func intents(for definition: TransitionDefinition) -> [EmailIntent] {
        guard let kind = kind(for: definition.name) else { return [] }
        return definition.effects.compactMap { effect in
            switch effect {
            case .notifySignOffOwner: return EmailIntent(kind: kind, audience: .signOffOwner)
            case .notifyServiceContact: return EmailIntent(kind: kind, audience: .serviceContact)
            case .notifyTeam: return EmailIntent(kind: kind, audience: .team)
            default: return nil
            }
        }
    }

    /// The address for an audience, if the request has one.
    public static func recipient(_ audience: Audience, checklist: Checklist, teamAddress: String?) -> String? {
        switch audience {
        case .signOffOwner: return checklist.signOffEmail
        case .serviceContact: return checklist.contactEmail
        case .team: return teamAddress
        case .uploaders: return nil
        }
    }
}

/// Capped exponential backoff with full jitter (AWS architecture blog): the delay before attempt
/// `n + 1` is uniform in [0, min(cap, base · 2^(n-1))], so retrying workers spread out.
public struct RetryPolicy: Sendable, Equatable {
    public var baseSeconds: Double
    public var capSeconds: Double
    public var maxAttempts: Int

    public init(baseSeconds: Double = 30, capSeconds: Double = 3600, maxAttempts: Int = 8) {
        self.baseSeconds = baseSeconds
        self.capSeconds = capSeconds
        self.maxAttempts = maxAttempts
    }

    /// The ceiling of the delay after `attempt` failed attempts (attempt ≥ 1).
    public func ceiling(afterAttempt attempt: Int) -> Double {
        min(capSeconds, baseSeconds * pow2(max(0, attempt - 1)))
    }

    /// `unit` is a uniform random number in [0, 1), injected so tests can pin it.
    public func delay(afterAttempt attempt: Int, unit: Double) -> Double {
        ceiling(afterAttempt: attempt) * min(max(unit, 0), 1)
    }

    private func pow2(_ n: Int) -> Double { n >= 60 ? .greatestFiniteMagnitude : Double(UInt64(1) << UInt64(n)) }
}
