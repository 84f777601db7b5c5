import Foundation

/// What the engine needs to know about a request to decide a transition.
public struct RequestSnapshot: Sendable, Equatable {
    public var kind: RequestKind
    public var state: RequestState
    public var checklist: Checklist
    public var signOffDecision: SignOffDecision?
    public var previewURL: String?
    public var liveURL: String?

    public init(
        kind: RequestKind, state: RequestState, checklist: Checklist, signOffDecision: SignOffDecision? = nil,
        previewURL: String? = nil, liveURL: String? = nil
    ) {
        self.kind = kind
        self.state = state
        self.checklist = checklist
        self.signOffDecision = signOffDecision
        self.previewURL = previewURL
        self.liveURL = liveURL
    }
}

/// The caller's inputs to a transition, already format-checked (see `TransitionArguments.parse`).
public struct TransitionArguments: Sendable, Equatable {
    public var reason: String?
    public var evidence: String?
    public var previewURL: String?
    public var liveURL: String?
    public var outcome: AuditOutcome?

    public init(
        reason: String? = nil, evidence: String? = nil, previewURL: String? = nil, liveURL: String? = nil,
        outcome: AuditOutcome? = nil
    ) {
        self.reason = reason
        self.evidence = evidence
        self.previewURL = previewURL
        self.liveURL = liveURL
        self.outcome = outcome
    }

    /// Reads a transition body: only the inputs the table declares for it are accepted.
    public static func parse(_ body: JSONValue?, for definition: TransitionDefinition) throws(ValidationFailure) -> TransitionArguments {
        var errors = ErrorCollector()
        var args = TransitionArguments()
        guard let body, body != .null else { return args }
        guard var r = ObjectReader(body, at: "", errors: &errors) else { throw ValidationFailure(errors.errors) }
        for input in definition.inputs {
            switch input {
            case .reason: args.reason = r.string("reason", required: false, maxLength: 2000)
            case .evidence: args.evidence = r.string("evidence", required: false, maxLength: 2000)
            case .previewURL: args.previewURL = r.httpsURL("preview_url", required: false)
            case .liveURL: args.liveURL = r.httpsURL("live_url", required: false)
            case .outcome: args.outcome = r.choice("outcome", AuditOutcome.self, required: false)
            }
        }
        for e in r.finish() {
            errors.add(e.pointer, e.message == "is not a recognised field" ? "is not an input of \(definition.name.rawValue)" : e.message)
        }
        try errors.throwIfAny()
        return args
    }
}

/// One condition that does not hold, machine-readable with a human sentence.
public struct UnmetGuard: Sendable, Equatable, Codable {
    public var code: Guard
    public var message: String
    public var items: [ItemName]?
}

/// Why a transition cannot fire.
public enum TransitionRefusal: Error, Sendable, Equatable {
    /// The actor may never fire this transition.
    case forbidden(actor: ActorKind, transition: TransitionName)
    /// Not from the current state; lists what the actor could fire instead.
    case illegalFromState(state: RequestState, transition: TransitionName, allowed: [TransitionName])
    /// From the right state, but conditions are unmet.
    case guardsUnmet(transition: TransitionName, unmet: [UnmetGuard], allowed: [TransitionName])
}

/// What the engine needs besides the request to date a transition: the instant it happens, and
/// the preview promise's length and working-day calendar (the request's division).
public struct TransitionContext: Sendable {
    public var now: Date
    public var calendar: WorkingCalendar
    public var previewWorkingDays: Int
    /// The request holds a preview promise (running or met): meeting or clearing it changes it.
    public var holdsPreviewPromise: Bool

    public init(now: Date, calendar: WorkingCalendar, previewWorkingDays: Int = 5, holdsPreviewPromise: Bool) {
        self.now = now
        self.calendar = calendar
        self.previewWorkingDays = previewWorkingDays
        self.holdsPreviewPromise = holdsPreviewPromise
    }
}

/// What becomes of the request's preview promise.
public enum PreviewPromiseChange: Sendable, Equatable {
    /// A new promise, dated from the firing.
    case start(PreviewSLA)
    /// The running promise stops without a verdict.
    case clear
    /// The promise is met at this instant.
    case meet(at: Date)
}

/// The one check of who may fire what: `TransitionEngine.plan` takes a permit, so a request is
/// planned only for an actor the table allows, and the permission is not asked twice.
public struct TransitionPermit: Sendable, Equatable {
    public let transition: TransitionName
    public let actor: ActorKind

    fileprivate init(transition: TransitionName, actor: ActorKind) {
        self.transition = transition
        self.actor = actor
    }
}

/// A transition the actor is permitted to fire from a state, with the request conditions still unmet.
public struct TransitionOption: Sendable, Equatable {
    public var definition: TransitionDefinition
    public var unmet: [UnmetGuard]

    public init(definition: TransitionDefinition, unmet: [UnmetGuard]) {
        self.definition = definition
        self.unmet = unmet
    }

    /// Nothing on the request stands in the way (inputs may still be needed).
    public var ready: Bool { unmet.isEmpty }
}

/// The decided outcome, complete: the new snapshot and the time-derived fields, the event, the
/// emails owed, the reminder rules settled and what the actor may fire next. The application
/// service executes it in one write; nothing in it needs the engine again.
public struct TransitionPlan: Sendable, Equatable {
    public var definition: TransitionDefinition
    public var actor: ActorKind
    public var from: RequestState
    public var to: RequestState
    public var arguments: TransitionArguments
    /// The request after the transition's own field changes (state, decision, URLs).
    public var after: RequestSnapshot
    /// The instant of the firing: the new version's `updated_at`.
    public var at: Date
    /// Set when the state changes.
    public var stateEnteredAt: Date?
    /// Set when information is complete.
    public var infoCompleteAt: Date?
    /// Set when a product audit completes.
    public var auditOutcome: AuditOutcome?
    /// Nil when the promise is untouched.
    public var previewPromise: PreviewPromiseChange?
    /// The `transitioned` event's data: transition, from, to and the inputs given.
    public var event: JSONValue
    /// The kind of email the transition sends (all its intents share it), for the page links it carries.
    public var emailKind: EmailKind?
    /// The emails owed, by audience.
    public var emails: [EmailIntent]
    /// The reminder rules whose queued reminders this firing makes out of date.
    public var settles: [ReminderRule]
    /// What the actor may fire from the new state, each with the conditions still unmet.
    public var next: [TransitionOption]

    /// The transitions the actor may fire after this one, judged on the request alone.
    public var allowedNext: [TransitionName] { next.filter(\.ready).map(\.definition.name) }
}

public enum TransitionEngine {
    /// Whether `actor` may ever fire `name`: the one permission check of a firing.
    public static func permit(_ name: TransitionName, by actor: ActorKind) -> Result<TransitionPermit, TransitionRefusal> {
        guard Permissions.allows(actor, .fire(name)) else { return .failure(.forbidden(actor: actor, transition: name)) }
        return .success(TransitionPermit(transition: name, actor: actor))
    }

    /// Checks the permission, then plans (see `plan(_:on:arguments:context:)`).
    public static func plan(
        _ name: TransitionName, on request: RequestSnapshot, by actor: ActorKind, arguments: TransitionArguments = .init(),
        context: TransitionContext
    ) -> Result<TransitionPlan, TransitionRefusal> {
        permit(name, by: actor).flatMap { plan($0, on: request, arguments: arguments, context: context) }
    }

    /// Decides whether the permitted firing may happen on `request` with `arguments`, and if so
    /// everything it does: the one place a transition's effects are read.
    public static func plan(
        _ permit: TransitionPermit, on request: RequestSnapshot, arguments: TransitionArguments = .init(), context: TransitionContext
    ) -> Result<TransitionPlan, TransitionRefusal> {
        let name = permit.transition
        let actor = permit.actor
        let def = Lifecycle.definition(name)
        guard def.from.contains(request.state) else {
            return .failure(.illegalFromState(state: request.state, transition: name, allowed: firable(on: request, by: actor).map(\.name)))
        }
        let unmet = unmetGuards(def, on: request, by: actor, arguments: arguments, includeInputs: true)
        guard unmet.isEmpty else {
            return .failure(.guardsUnmet(transition: name, unmet: unmet, allowed: firable(on: request, by: actor).map(\.name)))
        }

        let now = context.now
        var after = request
        after.state = def.to
        var infoCompleteAt: Date?
        var auditOutcome: AuditOutcome?
        var promise: PreviewPromiseChange?
        for effect in def.effects {
            switch effect {
            case .clearSignOffDecision: after.signOffDecision = nil
            case .recordApproval: after.signOffDecision = .approved
            // Changes requested sends the request back; the next sign-off request asks afresh.
            case .recordChangesRequested: after.signOffDecision = .changesRequested
            case .recordPreviewURL: if let u = arguments.previewURL { after.previewURL = u }
            case .recordLiveURL: if let u = arguments.liveURL { after.liveURL = u }
            case .recordInfoComplete: infoCompleteAt = now
            case .recordAuditOutcome: auditOutcome = arguments.outcome
            case .startPreviewSLA:
                promise = .start(PreviewSLA.start(at: now, workingDays: context.previewWorkingDays, calendar: context.calendar))
            case .clearPreviewSLA: if context.holdsPreviewPromise { promise = .clear }
            case .meetPreviewSLA: if context.holdsPreviewPromise { promise = .meet(at: now) }
            // Emails are listed from the same effects by `Notifications.intents`.
            case .notifySignOffOwner, .notifyTeam, .notifyServiceContact: break
            }
        }

        var data: [String: JSONValue] = [
            "transition": .string(name.rawValue), "from": .string(request.state.rawValue), "to": .string(def.to.rawValue),
        ]
        if let r = arguments.reason { data["reason"] = .string(r) }
        if let e = arguments.evidence { data["evidence"] = .string(e) }
        if let u = arguments.previewURL { data["preview_url"] = .string(u) }
        if let u = arguments.liveURL { data["live_url"] = .string(u) }
        if let o = arguments.outcome { data["outcome"] = .string(o.rawValue) }

        let settles = ReminderRules.settled(
            from: request.state, to: def.to, itemsChanged: false, slaChanged: promise != nil,
            signOffDecided: request.signOffDecision == nil && after.signOffDecision != nil)
        return .success(
            TransitionPlan(
                definition: def, actor: actor, from: request.state, to: def.to, arguments: arguments, after: after, at: now,
                stateEnteredAt: request.state != def.to ? now : nil, infoCompleteAt: infoCompleteAt, auditOutcome: auditOutcome,
                previewPromise: promise, event: .object(data), emailKind: Notifications.kind(for: name),
                emails: Notifications.intents(for: def), settles: settles,
                next: nextOptions(on: after, by: actor)))
    }

    /// Transitions the actor may fire from the request's state, judged on the request alone
    /// (conditions on the caller's inputs are not known until they are given).
    public static func firable(on request: RequestSnapshot, by actor: ActorKind) -> [TransitionDefinition] {
        Lifecycle.transitions(from: request.state).filter {
            Permissions.allows(actor, .fire($0.name))
                && unmetGuards($0, on: request, by: actor, arguments: .init(), includeInputs: false).isEmpty
        }
    }

    /// Transitions from the request's state that the actor is permitted to fire, each with
    /// the request conditions still unmet: what a UI shows as "available" or "blocked by …".
    public static func options(on request: RequestSnapshot, by actor: ActorKind) -> [(TransitionDefinition, [UnmetGuard])] {
        Lifecycle.transitions(from: request.state)
            .filter { Permissions.allows(actor, .fire($0.name)) }
            .map { ($0, unmetGuards($0, on: request, by: actor, arguments: .init(), includeInputs: false)) }
    }

    /// `options` as values: what a request lists as its `transitions` for the actor.
    public static func nextOptions(on request: RequestSnapshot, by actor: ActorKind) -> [TransitionOption] {
        options(on: request, by: actor).map { TransitionOption(definition: $0.0, unmet: $0.1) }
    }

    /// Guards that depend on what the caller sends, rather than on the request.
    static func dependsOnInput(_ g: Guard) -> Bool {
        switch g {
        case .reasonGiven, .evidenceGivenByStaff, .outcomeGiven, .previewURLKnown, .liveURLKnown: return true
        default: return false
        }
    }

    public static func unmetGuards(
        _ def: TransitionDefinition, on r: RequestSnapshot, by actor: ActorKind,
        arguments a: TransitionArguments, includeInputs: Bool
    ) -> [UnmetGuard] {
        def.guards.compactMap { g -> UnmetGuard? in
            if !includeInputs, dependsOnInput(g) {
                // A stored URL already satisfies the URL guards; the rest wait for input.
                return nil
            }
            switch g {
            case .requiredItemsSettled:
                let missing = r.checklist.unsettledRequiredItems(for: r.kind)
                if missing.isEmpty { return nil }
                return UnmetGuard(code: g, message: "Still missing: " + missing.map(\.title).joined(separator: ", "), items: missing)
            case .signOffContactProvided:
                if r.checklist[.signOffContact].status == .provided, r.checklist.signOffEmail != nil { return nil }
                return UnmetGuard(code: g, message: "The sign-off contact has not been provided", items: [.signOffContact])
            case .signOffUndecided:
                guard let d = r.signOffDecision else { return nil }
                return UnmetGuard(code: g, message: "The sign-off owner has already decided: \(d.rawValue.replacingOccurrences(of: "_", with: " "))")
            case .signOffApproved:
                if r.signOffDecision == .approved { return nil }
                return UnmetGuard(code: g, message: "The sign-off owner has not approved publication")
            case .previewURLKnown:
                if a.previewURL != nil || r.previewURL != nil { return nil }
                return UnmetGuard(code: g, message: "Give preview_url, the address of the published preview")
            case .liveURLKnown:
                if a.liveURL != nil || r.liveURL != nil { return nil }
                return UnmetGuard(code: g, message: "Give live_url, the address of the live dashboard")
            case .reasonGiven:
                if a.reason != nil { return nil }
                return UnmetGuard(code: g, message: "Give a reason")
            case .evidenceGivenByStaff:
                if !actor.isStaff || a.evidence != nil { return nil }
                return UnmetGuard(code: g, message: "Staff recording a sign-off decision must give evidence, such as the email it arrived in")
            case .outcomeGiven:
                if a.outcome != nil { return nil }
                return UnmetGuard(code: g, message: "Give an outcome: " + AuditOutcome.allCases.map(\.rawValue).joined(separator: ", "))
            }
        }
    }
}
