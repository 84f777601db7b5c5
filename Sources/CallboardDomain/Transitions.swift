/// The names of the lifecycle's transitions; the table below says what each does.
public enum TransitionName: String, CaseIterable, Codable, Sendable {
    case completeInformation = "complete_information"
    case reopenInformation = "reopen_information"
    case requestSignOff = "request_sign_off"
    case approveSignOff = "approve_sign_off"
    case requestChanges = "request_changes"
    case markBuilt = "mark_built"
    case publishPreview = "publish_preview"
    case goLive = "go_live"
    case startProductAudit = "start_product_audit"
    case completeProductAudit = "complete_product_audit"
    case withdraw
}

/// Inputs a transition takes from the caller's body.
public enum TransitionInput: String, CaseIterable, Codable, Sendable {
    case reason
    case evidence
    case previewURL = "preview_url"
    case liveURL = "live_url"
    case outcome
}

/// Conditions on the request (and the inputs) that must hold for a transition to fire.
public enum Guard: String, CaseIterable, Codable, Sendable {
    case requiredItemsSettled = "required_items_settled"
    case signOffContactProvided = "sign_off_contact_provided"
    case signOffUndecided = "sign_off_undecided"
    case signOffApproved = "sign_off_approved"
    case previewURLKnown = "preview_url_known"
    case liveURLKnown = "live_url_known"
    case reasonGiven = "reason_given"
    case evidenceGivenByStaff = "evidence_given_by_staff"
    case outcomeGiven = "outcome_given"

    public var summary: String {
        switch self {
        case .requiredItemsSettled: return "Every required item is provided or declared not available"
        case .signOffContactProvided: return "The sign-off contact is provided"
        case .signOffUndecided: return "The sign-off owner has not decided yet"
        case .signOffApproved: return "The sign-off owner has approved publication"
        case .previewURLKnown: return "A preview URL is given"
        case .liveURLKnown: return "A live dashboard URL is given"
        case .reasonGiven: return "A reason is given"
        case .evidenceGivenByStaff: return "Staff recording a decision give the evidence (e.g. the email it arrived in)"
        case .outcomeGiven: return "An audit outcome is given"
        }
    }
}

/// What a transition does besides changing state; run by the application service in the same transaction.
public enum Effect: String, CaseIterable, Codable, Sendable {
    case recordInfoComplete = "record_info_complete"
    /// The preview promise starts (again, if information was reopened) …
    case startPreviewSLA = "start_preview_sla"
    /// … stops without a verdict when information is reopened …
    case clearPreviewSLA = "clear_preview_sla"
    /// … and is met when the preview is published.
    case meetPreviewSLA = "meet_preview_sla"
    case clearSignOffDecision = "clear_sign_off_decision"
    case recordApproval = "record_approval"
    case recordChangesRequested = "record_changes_requested"
    case recordPreviewURL = "record_preview_url"
    case recordLiveURL = "record_live_url"
    case recordAuditOutcome = "record_audit_outcome"
    case notifySignOffOwner = "notify_sign_off_owner"
    case notifyTeam = "notify_team"
    case notifyServiceContact = "notify_service_contact"
}

/// One row of the lifecycle table.
public struct TransitionDefinition: Sendable, Equatable {
    public let name: TransitionName
    public let from: [RequestState]
    public let to: RequestState
    public let actors: Set<ActorKind>
    public let inputs: [TransitionInput]
    public let guards: [Guard]
    public let effects: [Effect]
    public let summary: String
}

/// The lifecycle as data: the single declaration that drives the API, pages, permissions and docs.
public enum Lifecycle {
    private static let staff: Set<ActorKind> = [.admin, .triager]
    private static let nonFinal = RequestState.allCases.filter { !$0.isFinal }

    public static let table: [TransitionDefinition] = [
        .init(
            name: .completeInformation, from: [.requested], to: .infoComplete,
            actors: staff.union([.system]), inputs: [], guards: [.requiredItemsSettled],
            effects: [.recordInfoComplete, .startPreviewSLA],
            summary: "All required information is in; the 5-working-day preview promise starts."),
        .init(
            name: .reopenInformation, from: [.infoComplete], to: .requested,
            actors: staff, inputs: [.reason], guards: [.reasonGiven], effects: [.clearPreviewSLA, .notifyServiceContact],
            summary: "Information turned out to be incomplete or wrong; the service contact is asked again."),
        .init(
            name: .requestSignOff, from: [.infoComplete], to: .signoffPending,
            actors: staff, inputs: [], guards: [.signOffContactProvided],
            effects: [.clearSignOffDecision, .notifySignOffOwner],
            summary: "The sign-off owner is asked to approve publication."),
        .init(
            name: .approveSignOff, from: [.signoffPending], to: .signoffPending,
            actors: staff.union([.signOffOwner]), inputs: [.evidence], guards: [.signOffUndecided, .evidenceGivenByStaff],
            effects: [.recordApproval, .notifyTeam],
            summary: "The sign-off owner approves publication (or staff record an approval that arrived another way)."),
        .init(
            name: .requestChanges, from: [.signoffPending], to: .infoComplete,
            actors: staff.union([.signOffOwner]), inputs: [.reason, .evidence],
            guards: [.signOffUndecided, .reasonGiven, .evidenceGivenByStaff],
            effects: [.recordChangesRequested, .notifyTeam],
            summary: "The sign-off owner asks for changes before approving."),
        .init(
            name: .markBuilt, from: [.signoffPending], to: .built,
            actors: staff, inputs: [], guards: [.signOffApproved], effects: [],
            summary: "The dashboard is built."),
        .init(
            name: .publishPreview, from: [.built], to: .previewPublished,
            actors: staff, inputs: [.previewURL], guards: [.previewURLKnown],
            effects: [.recordPreviewURL, .meetPreviewSLA, .notifyServiceContact, .notifySignOffOwner],
            summary: "The preview is published; this meets the preview promise."),
        .init(
            name: .goLive, from: [.previewPublished], to: .live,
            actors: staff, inputs: [.liveURL], guards: [.signOffApproved, .liveURLKnown],
            effects: [.recordLiveURL, .notifyServiceContact, .notifySignOffOwner],
            summary: "The dashboard goes live on GOV.UK."),
        .init(
            name: .startProductAudit, from: [.live], to: .productAudit,
            actors: staff.union([.system]), inputs: [], guards: [], effects: [.notifyTeam, .notifyServiceContact],
            summary: "The product audit of the live dashboard starts."),
        .init(
            name: .completeProductAudit, from: [.productAudit], to: .live,
            actors: staff, inputs: [.outcome, .reason], guards: [.outcomeGiven],
            effects: [.recordAuditOutcome],
            summary: "The product audit is complete with an outcome."),
        .init(
            name: .withdraw, from: nonFinal, to: .withdrawn,
            actors: staff, inputs: [.reason], guards: [.reasonGiven], effects: [.notifyServiceContact],
            summary: "The request is withdrawn."),
    ]

    public static func definition(_ name: TransitionName) -> TransitionDefinition {
        table.first { $0.name == name }!
    }

    /// Transitions whose from-states include `state`, in table order.
    public static func transitions(from state: RequestState) -> [TransitionDefinition] {
        table.filter { $0.from.contains(state) }
    }
}
