import Testing

@testable import CallboardDomain

@Suite struct GuardTests {
    private func unmet(_ result: Result<TransitionPlan, TransitionRefusal>) -> [Guard] {
        if case .failure(.guardsUnmet(_, let u, _)) = result { return u.map(\.code) }
        return []
    }

    @Test func completeInformationListsEveryMissingRequiredItem() {
        var c = Checklist()
        c[.contact] = Fixtures.provided(.contact)
        c[.costPerTransaction] = ChecklistItem(status: .notAvailable, reason: "no cost data")
        let r = RequestSnapshot(kind: .transactional, state: .requested, checklist: c)
        guard case .failure(.guardsUnmet(let t, let u, let allowed)) = TransitionEngine.plan(.completeInformation, on: r, by: .triager) else {
            Issue.record("expected unmet guards")
            return
        }
        #expect(t == .completeInformation)
        #expect(u.count == 1)
        #expect(u[0].items == [.signOffContact, .service, .userSatisfaction, .completionRate, .digitalTakeUp, .serviceAvailability])
        #expect(
            u[0].message
                == "Still missing: Sign-off contact, About the service, User satisfaction, Completion rate, Digital take-up, Service availability")
        #expect(allowed == [.withdraw])
    }

    @Test func nonTransactionalNeedsOnlyContactsAndService() {
        var c = Checklist()
        for n in [ItemName.contact, .signOffContact, .service] { c[n] = Fixtures.provided(n) }
        let r = RequestSnapshot(kind: .nonTransactional, state: .requested, checklist: c)
        #expect(c.isComplete(for: .nonTransactional))
        #expect(!c.isComplete(for: .transactional))
        guard case .success(let plan) = TransitionEngine.plan(.completeInformation, on: r, by: .system) else {
            Issue.record("expected success")
            return
        }
        #expect(plan.to == .infoComplete)
    }

    @Test func markBuiltNeedsApproval() {
        var r = Fixtures.satisfied(.signoffPending)
        r.signOffDecision = nil
        #expect(unmet(TransitionEngine.plan(.markBuilt, on: r, by: .admin)) == [.signOffApproved])
        r.signOffDecision = .approved
        #expect(unmet(TransitionEngine.plan(.markBuilt, on: r, by: .admin)) == [])
    }

    @Test func approvalRecordsDecisionAndStaysPending() throws {
        let r = Fixtures.satisfied(.signoffPending)
        let plan = try TransitionEngine.plan(.approveSignOff, on: r, by: .signOffOwner).get()
        #expect(plan.to == .signoffPending)
        #expect(plan.after.signOffDecision == .approved)
        // A second decision is refused.
        #expect(
            unmet(TransitionEngine.plan(.requestChanges, on: plan.after, by: .signOffOwner, arguments: .init(reason: "x"))) == [.signOffUndecided])
    }

    @Test func staffRecordingADecisionNeedEvidenceOwnersDoNot() {
        let r = Fixtures.satisfied(.signoffPending)
        #expect(unmet(TransitionEngine.plan(.approveSignOff, on: r, by: .triager)) == [.evidenceGivenByStaff])
        #expect(unmet(TransitionEngine.plan(.approveSignOff, on: r, by: .triager, arguments: .init(evidence: "email"))) == [])
        #expect(unmet(TransitionEngine.plan(.requestChanges, on: r, by: .signOffOwner)) == [.reasonGiven])
        #expect(unmet(TransitionEngine.plan(.requestChanges, on: r, by: .admin)) == [.reasonGiven, .evidenceGivenByStaff])
    }

    @Test func requestChangesSendsBackAndNextSignOffAsksAfresh() throws {
        let r = Fixtures.satisfied(.signoffPending)
        let back = try TransitionEngine.plan(.requestChanges, on: r, by: .signOffOwner, arguments: .init(reason: "wrong KPI")).get()
        #expect(back.to == .infoComplete)
        #expect(back.after.signOffDecision == .changesRequested)
        let again = try TransitionEngine.plan(.requestSignOff, on: back.after, by: .triager).get()
        #expect(again.after.signOffDecision == nil)
    }

    @Test func requestSignOffNeedsSignOffContact() {
        var r = Fixtures.satisfied(.infoComplete)
        r.checklist[.signOffContact] = .missing
        #expect(unmet(TransitionEngine.plan(.requestSignOff, on: r, by: .admin)) == [.signOffContactProvided])
    }

    @Test func previewAndLiveNeedURLsFromInputOrRecord() throws {
        var r = Fixtures.satisfied(.built)
        #expect(unmet(TransitionEngine.plan(.publishPreview, on: r, by: .admin)) == [.previewURLKnown])
        let p = try TransitionEngine.plan(.publishPreview, on: r, by: .admin, arguments: .init(previewURL: "https://p.gov.uk/x")).get()
        #expect(p.after.previewURL == "https://p.gov.uk/x")
        r.previewURL = "https://p.gov.uk/stored"
        #expect(unmet(TransitionEngine.plan(.publishPreview, on: r, by: .admin)) == [])

        var l = Fixtures.satisfied(.previewPublished)
        l.signOffDecision = .changesRequested
        #expect(unmet(TransitionEngine.plan(.goLive, on: l, by: .admin)) == [.signOffApproved, .liveURLKnown])
    }

    @Test func auditNeedsOutcomeAndReturnsToLive() throws {
        let r = Fixtures.satisfied(.productAudit)
        #expect(unmet(TransitionEngine.plan(.completeProductAudit, on: r, by: .admin)) == [.outcomeGiven])
        #expect(try TransitionEngine.plan(.completeProductAudit, on: r, by: .admin, arguments: .init(outcome: .passed)).get().to == .live)
    }

    @Test func withdrawNeedsReason() {
        #expect(unmet(TransitionEngine.plan(.withdraw, on: Fixtures.satisfied(.live), by: .admin)) == [.reasonGiven])
    }

    @Test func firableListsOnlyPermittedAndRequestReadyTransitions() {
        var r = Fixtures.satisfied(.signoffPending)
        #expect(TransitionEngine.firable(on: r, by: .triager).map(\.name) == [.approveSignOff, .requestChanges, .withdraw])
        #expect(TransitionEngine.firable(on: r, by: .signOffOwner).map(\.name) == [.approveSignOff, .requestChanges])
        #expect(TransitionEngine.firable(on: r, by: .viewer).isEmpty)
        r.signOffDecision = .approved
        #expect(TransitionEngine.firable(on: r, by: .triager).map(\.name) == [.markBuilt, .withdraw])
        let opts = TransitionEngine.options(on: r, by: .triager)
        #expect(opts.map(\.0.name) == [.approveSignOff, .requestChanges, .markBuilt, .withdraw])
        #expect(opts[0].1.map(\.code) == [.signOffUndecided])
    }

    @Test func transitionBodyAcceptsOnlyDeclaredInputs() throws {
        let def = Lifecycle.definition(.publishPreview)
        #expect(
            throws: ValidationFailure([
                FieldError(pointer: "/preview_url", message: "must start with https://"),
                FieldError(pointer: "/reason", message: "is not an input of publish_preview"),
            ])
        ) {
            try TransitionArguments.parse(.object(["preview_url": .string("http://x.gov.uk"), "reason": .string("r")]), for: def)
        }
        #expect(throws: ValidationFailure([FieldError(pointer: "", message: "must be an object, got an array")])) {
            try TransitionArguments.parse(.array([]), for: def)
        }
        #expect(try TransitionArguments.parse(nil, for: def) == TransitionArguments())
        #expect(throws: ValidationFailure([FieldError(pointer: "/outcome", message: "must be one of: passed, actions_agreed, failed")])) {
            try TransitionArguments.parse(.object(["outcome": .string("great")]), for: Lifecycle.definition(.completeProductAudit))
        }
    }
}
