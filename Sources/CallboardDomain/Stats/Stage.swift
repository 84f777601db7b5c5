/// The stages a request's time is split into for the team's figures (docs/team-performance.md).
/// Each is a stretch of time in one state; sign-off pending is two stages, before and after approval.
public enum Stage: String, CaseIterable, Codable, Sendable {
    /// `requested`: from the request (or information reopened) to information complete.
    case information
    /// `info_complete`: from information complete (or changes requested) to sign-off asked.
    case awaitingSignOffRequest = "awaiting_sign_off_request"
    /// `signoff_pending`, undecided: from sign-off asked to the owner's decision.
    case signOff = "sign_off"
    /// `signoff_pending`, approved: from approval to built.
    case build
    /// `built`: from built to preview published.
    case preview
    /// `preview_published`: from preview to live.
    case goLive = "go_live"

    /// The stage a stretch in `state` belongs to; `approved` is whether it began with the approval.
    /// Live, product audit and withdrawn are after (or outside) the journey: no stage.
    public static func of(_ state: RequestState, approved: Bool) -> Stage? {
        switch state {
        case .requested: return .information
        case .infoComplete: return .awaitingSignOffRequest
        case .signoffPending: return approved ? .build : .signOff
        case .built: return .preview
        case .previewPublished: return .goLive
        case .live, .productAudit, .withdrawn: return nil
        }
    }

    /// "from → to" as the team says it.
    public var title: String {
        switch self {
        case .information: return "Requested to information complete"
        case .awaitingSignOffRequest: return "Information complete to sign-off asked"
        case .signOff: return "Sign-off asked to decided"
        case .build: return "Approved to built"
        case .preview: return "Built to preview published"
        case .goLive: return "Preview to live"
        }
    }

    /// A short name for chart labels.
    public var shortTitle: String {
        switch self {
        case .information: return "Information"
        case .awaitingSignOffRequest: return "Waiting to ask"
        case .signOff: return "Sign-off"
        case .build: return "Building"
        case .preview: return "Preview"
        case .goLive: return "Going live"
        }
    }
}
