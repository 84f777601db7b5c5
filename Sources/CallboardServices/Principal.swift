import CallboardDomain
import Foundation

/// Who is acting: an authenticated staff member, a person holding an emailed link, or the system.
public struct Principal: Sendable, Equatable {
    public var actor: ActorKind
    public var staffID: UUID?
    public var email: String?

    public init(actor: ActorKind, staffID: UUID? = nil, email: String? = nil) {
        self.actor = actor
        self.staffID = staffID
        self.email = email
    }

    public static let system = Principal(actor: .system)

    /// Recorded on events: the staff id, else the email, else nothing (system).
    public var actorID: String? { staffID?.lowercasedString ?? email }

    public func require(_ action: Action) throws(ServiceError) {
        guard allows(action) else { throw .forbidden(action) }
    }

    public func allows(_ action: Action) -> Bool { Permissions.allows(actor, action) }
}

/// What an application service can refuse, independent of HTTP; the HTTP layer maps each to a status.
public enum ServiceError: Error, Sendable, Equatable {
    case notFound(String)
    case validation([FieldError])
    /// The caller's version is not the stored one.
    case stale(current: Int)
    case refused(TransitionRefusal)
    case forbidden(Action)
    case conflict(String)
}
