/// Staff roles (DESIGN §1): admin does everything, triager all request work, viewer reads.
public enum StaffRole: String, CaseIterable, Codable, Sendable {
    case admin, triager, viewer
}

/// Who fires a transition or takes an action. Roles for staff; people reached by emailed links;
/// and the system itself (automatic firings, the scheduler).
public enum ActorKind: String, CaseIterable, Codable, Sendable, Comparable {
    case admin, triager, viewer
    case signOffOwner = "sign_off_owner"
    case serviceContact = "service_contact"
    /// A data set's uploader, by their emailed upload link.
    case uploader
    case system

    public init(_ role: StaffRole) {
        switch role {
        case .admin: self = .admin
        case .triager: self = .triager
        case .viewer: self = .viewer
        }
    }

    public var isStaff: Bool { self == .admin || self == .triager || self == .viewer }

    public static func < (a: ActorKind, b: ActorKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
