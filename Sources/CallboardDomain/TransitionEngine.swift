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

/// The decided outcome: what to write, what effects to run.
public struct TransitionPlan: Sendable, Equatable {
    public var definition: TransitionDefinition
    public var from: RequestState
    public var to: RequestState
    public var arguments: TransitionArguments
    /// The request after the transition's own field changes (decision, URLs).
    public var after: RequestSnapshot
}

public enum TransitionEngine {
    /// Decides whether `actor` may fire `name` on `request` with `arguments`.
    public static func plan(
        _ name: TransitionName, on request: RequestSnapshot, by actor: ActorKind,
        arguments: TransitionArguments = .init()
    ) -> Result<TransitionPlan, TransitionRefusal> {
        let def = Lifecycle.definition(name)
        guard Permissions.allows(actor, .fire(name)) else { return .failure(.forbidden(actor: actor, transition: name)) }
        let allowed = firable(on: request, by: actor).map(\.name)
        guard def.from.contains(request.state) else {
            return .failure(.illegalFromState(state: request.state, transition: name, allowed: allowed))
        }
        let unmet = unmetGuards(def, on: request, by: actor, arguments: arguments, includeInputs: true)
        guard unmet.isEmpty else { return .failure(.guardsUnmet(transition: name, unmet: unmet, allowed: allowed)) }

        var after = request
        after.state = def.to
        for effect in def.effects {
            switch effect {
            case .clearSignOffDecision: after.signOffDecision = nil
            case .recordApproval: after.signOffDecision = .approved
            // Changes requested sends the request back; the next sign-off request asks afresh.
            case .recordChangesRequested: after.signOffDecision = .changesRequested
            case .recordPreviewURL: if let u = arguments.previewURL { after.previewURL = u }
            case .recordLiveURL: if let u = arguments.liveURL { after.liveURL = u }
            case .recordInfoComplete, .recordAuditOutcome, .notifySignOffOwner, .notifyTeam, .notifyServiceContact,
                .startPreviewSLA, .clearPreviewSLA, .meetPreviewSLA:
                break
            }
        }
        return .success(TransitionPlan(definition: def, from: request.state, to: def.to, arguments: arguments, after: after))
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
