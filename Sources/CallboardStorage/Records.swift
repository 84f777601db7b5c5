import CallboardDomain
import Foundation

/// A dashboard request as stored.
public struct RequestRecord: Sendable, Equatable {
    public var id: UUID
    public var kind: RequestKind
    public var state: RequestState
    public var version: Int
    public var department: String
    public var division: String
    public var assigneeID: UUID?
    public var assigneeEmail: String?
    public var checklist: Checklist
    public var optionalModules: [OptionalModule]
    public var notes: String
    public var signOffDecision: SignOffDecision?
    public var previewURL: String?
    public var liveURL: String?
    public var auditOutcome: AuditOutcome?
    public var infoCompleteAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    /// The preview promise's stored facts (nil until information is complete).
    public var sla: StoredSLA?
    /// When the request entered its current state: what the reminder rules count from.
    public var stateEnteredAt: Date
    /// `CB-XXXX-XXXX`, for people to read out (`RequestReference`); unique, by the database's index.
    public var reference = ""

    public init(
        id: UUID, kind: RequestKind, state: RequestState, version: Int, department: String, division: String,
        assigneeID: UUID? = nil, assigneeEmail: String? = nil, checklist: Checklist, optionalModules: [OptionalModule] = [],
        notes: String = "", signOffDecision: SignOffDecision? = nil, previewURL: String? = nil, liveURL: String? = nil,
        auditOutcome: AuditOutcome? = nil, infoCompleteAt: Date? = nil, createdAt: Date, updatedAt: Date, sla: StoredSLA? = nil,
        stateEnteredAt: Date? = nil
    ) {
        self.sla = sla
        self.stateEnteredAt = stateEnteredAt ?? createdAt
        self.id = id
        self.kind = kind
        self.state = state
        self.version = version
        self.department = department
        self.division = division
        self.assigneeID = assigneeID
        self.assigneeEmail = assigneeEmail
        self.checklist = checklist
        self.optionalModules = optionalModules
        self.notes = notes
        self.signOffDecision = signOffDecision
        self.previewURL = previewURL
        self.liveURL = liveURL
        self.auditOutcome = auditOutcome
        self.infoCompleteAt = infoCompleteAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// What the reminder rules reason about.
    public var reminderFacts: ReminderFacts {
        ReminderFacts(
            id: id, state: state, stateEnteredAt: stateEnteredAt, slaStartedAt: sla?.startedAt, slaDueAt: sla?.dueAt,
            slaAtRiskAt: sla?.atRiskAt, slaMetAt: sla?.metAt, signOffDecided: signOffDecision != nil)
    }

    /// What the lifecycle engine reasons about.
    public var snapshot: RequestSnapshot {
        get {
            RequestSnapshot(
                kind: kind, state: state, checklist: checklist, signOffDecision: signOffDecision,
                previewURL: previewURL, liveURL: liveURL)
        }
        set {
            kind = newValue.kind
            state = newValue.state
            checklist = newValue.checklist
            signOffDecision = newValue.signOffDecision
            previewURL = newValue.previewURL
            liveURL = newValue.liveURL
        }
    }
}

/// What is stored of a preview promise; the rest is worked out from the calendar when shown.
public struct StoredSLA: Sendable, Equatable {
    public var startedAt: Date
    public var dueAt: Date
    public var atRiskAt: Date
    public var metAt: Date?
    public var calendarVersion: String

    public init(startedAt: Date, dueAt: Date, atRiskAt: Date, metAt: Date?, calendarVersion: String) {
        self.startedAt = startedAt
        self.dueAt = dueAt
        self.atRiskAt = atRiskAt
        self.metAt = metAt
        self.calendarVersion = calendarVersion
    }
}

/// One entry of a request's append-only history.
public struct EventRecord: Sendable, Equatable {
    public var id: Int64
    public var requestID: UUID
    public var version: Int
    public var kind: String
    public var actorKind: ActorKind
    public var actorID: String?
    public var occurredAt: Date
    public var data: JSONValue

    public init(
        id: Int64 = 0, requestID: UUID, version: Int, kind: String, actorKind: ActorKind, actorID: String?,
        occurredAt: Date, data: JSONValue
    ) {
        self.id = id
        self.requestID = requestID
        self.version = version
        self.kind = kind
        self.actorKind = actorKind
        self.actorID = actorID
        self.occurredAt = occurredAt
        self.data = data
    }
}

public struct StaffRecord: Sendable, Equatable {
    public var id: UUID
    public var email: String
    public var name: String
    public var role: StaffRole
    public var createdAt: Date
    public var disabledAt: Date?

    public init(id: UUID, email: String, name: String, role: StaffRole, createdAt: Date, disabledAt: Date? = nil) {
        self.id = id
        self.email = email
        self.name = name
        self.role = role
        self.createdAt = createdAt
        self.disabledAt = disabledAt
    }
}

public struct TokenRecord: Sendable, Equatable {
    public var id: UUID
    public var staffID: UUID
    public var name: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?
}
