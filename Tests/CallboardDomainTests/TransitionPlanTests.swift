import Foundation
import Testing

@testable import CallboardDomain

extension Fixtures {
    /// Wednesday 25 November 2026, 10:00 London (GMT).
    static let firedAt = ISO8601DateFormatter().date(from: "2026-11-25T10:00:00Z")!

    static func context(holdsPreviewPromise: Bool = false) -> TransitionContext {
        TransitionContext(now: firedAt, calendar: CalendarTests.england, previewWorkingDays: 5, holdsPreviewPromise: holdsPreviewPromise)
    }
}

extension TransitionEngine {
    /// The engine as the guard tests use it: permission and plan at a fixed instant.
    static func plan(
        _ name: TransitionName, on request: RequestSnapshot, by actor: ActorKind, arguments: TransitionArguments = .init()
    ) -> Result<TransitionPlan, TransitionRefusal> {
        plan(name, on: request, by: actor, arguments: arguments, context: Fixtures.context())
    }
}

/// The plan is complete: the service executes it without asking the engine again.
@Suite struct TransitionPlanTests {
    let now = Fixtures.firedAt
    func at(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }
    func strings(_ o: [String: String]) -> JSONValue { .object(o.mapValues(JSONValue.string)) }

    @Test func completeInformationStartsThePreviewPromiseAtTheFiringInstant() throws {
        let r = Fixtures.satisfied(.requested)
        let plan = try TransitionEngine.plan(.completeInformation, on: r, by: .triager, arguments: .init(), context: Fixtures.context()).get()
        #expect(plan.at == now)
        #expect(plan.stateEnteredAt == now)
        #expect(plan.infoCompleteAt == now)
        #expect(plan.auditOutcome == nil)
        guard case .start(let sla) = plan.previewPromise else {
            Issue.record("expected a started promise, got \(String(describing: plan.previewPromise))")
            return
        }
        // Due by the end of Wednesday 2 December; at risk from Tuesday 1 December.
        #expect(sla.startedAt == now)
        #expect(sla.dueAt == at("2026-12-03T00:00:00Z"))
        #expect(sla.atRiskAt == at("2026-12-01T00:00:00Z"))
        #expect(sla.calendarVersion == "test")
        #expect(sla.metAt == nil)
        #expect(plan.settles == [.missingInformation, .previewSLA])
        #expect(plan.event == strings(["transition": "complete_information", "from": "requested", "to": "info_complete"]))
        #expect(plan.emailKind == nil)
        #expect(plan.emails.isEmpty)
        #expect(plan.allowedNext == [.reopenInformation, .requestSignOff, .withdraw])
    }

    @Test func theSystemCompletingInformationMayFireNothingAfter() throws {
        let plan = try TransitionEngine.plan(.completeInformation, on: Fixtures.satisfied(.requested), by: .system, context: Fixtures.context()).get()
        #expect(plan.actor == .system)
        #expect(plan.next.isEmpty)
    }

    @Test func publishPreviewMeetsThePromiseItHolds() throws {
        let args = TransitionArguments(previewURL: "https://preview.example.gov.uk/d")
        let plan = try TransitionEngine.plan(
            .publishPreview, on: Fixtures.satisfied(.built), by: .admin, arguments: args, context: Fixtures.context(holdsPreviewPromise: true)
        ).get()
        #expect(plan.previewPromise == .meet(at: now))
        #expect(plan.settles == [.previewSLA])
        #expect(plan.after.previewURL == "https://preview.example.gov.uk/d")
        #expect(plan.after.state == .previewPublished)
        #expect(plan.infoCompleteAt == nil)
        #expect(
            plan.event
                == strings([
                    "transition": "publish_preview", "from": "built", "to": "preview_published",
                    "preview_url": "https://preview.example.gov.uk/d",
                ]))
        #expect(plan.emailKind == .previewPublished)
        #expect(
            plan.emails == [
                EmailIntent(kind: .previewPublished, audience: .serviceContact), EmailIntent(kind: .previewPublished, audience: .signOffOwner),
            ])
        #expect(plan.allowedNext == [.goLive, .withdraw])
        // Without a promise on record there is nothing to meet, and no reminder to settle.
        let bare = try TransitionEngine.plan(
            .publishPreview, on: Fixtures.satisfied(.built), by: .admin, arguments: args, context: Fixtures.context()
        ).get()
        #expect(bare.previewPromise == nil)
        #expect(bare.settles == [])
    }

    @Test func reopeningInformationClearsThePromise() throws {
        let plan = try TransitionEngine.plan(
            .reopenInformation, on: Fixtures.satisfied(.infoComplete), by: .triager, arguments: .init(reason: "wrong KPI"),
            context: Fixtures.context(holdsPreviewPromise: true)
        ).get()
        #expect(plan.previewPromise == .clear)
        #expect(plan.settles == [.previewSLA])
        #expect(plan.emailKind == .informationReopened)
        #expect(plan.emails == [EmailIntent(kind: .informationReopened, audience: .serviceContact)])
        #expect(plan.event == strings(["transition": "reopen_information", "from": "info_complete", "to": "requested", "reason": "wrong KPI"]))
    }

    @Test func withdrawSettlesEveryRuleAndLeavesNothingToFire() throws {
        let plan = try TransitionEngine.plan(
            .withdraw, on: Fixtures.satisfied(.signoffPending), by: .admin, arguments: .init(reason: "duplicate"), context: Fixtures.context()
        ).get()
        #expect(plan.settles == [.missingInformation, .signOff, .previewSLA, .upload, .productAudit])
        #expect(plan.stateEnteredAt == now)
        #expect(plan.emails == [EmailIntent(kind: .withdrawn, audience: .serviceContact)])
        #expect(plan.event == strings(["transition": "withdraw", "from": "signoff_pending", "to": "withdrawn", "reason": "duplicate"]))
        #expect(plan.next.isEmpty)
    }

    @Test func goLiveAsAdminListsWhatTheAdminMayFireNext() throws {
        let plan = try TransitionEngine.plan(
            .goLive, on: Fixtures.satisfied(.previewPublished), by: .admin, arguments: .init(liveURL: "https://www.gov.uk/performance/d"),
            context: Fixtures.context(holdsPreviewPromise: true)
        ).get()
        #expect(plan.allowedNext == [.startProductAudit, .withdraw])
        #expect(plan.next.map(\.definition.name) == [.startProductAudit, .withdraw])
        #expect(plan.next.allSatisfy { $0.unmet.isEmpty })
        #expect(plan.after.liveURL == "https://www.gov.uk/performance/d")
        #expect(plan.previewPromise == nil)
        #expect(plan.settles == [])
        #expect(plan.emails == [EmailIntent(kind: .live, audience: .serviceContact), EmailIntent(kind: .live, audience: .signOffOwner)])
    }

    @Test func startingAndCompletingTheProductAudit() throws {
        let start = try TransitionEngine.plan(.startProductAudit, on: Fixtures.satisfied(.live), by: .system, context: Fixtures.context()).get()
        #expect(start.settles == [.productAudit])
        #expect(
            start.emails == [
                EmailIntent(kind: .productAuditStarted, audience: .team), EmailIntent(kind: .productAuditStarted, audience: .serviceContact),
            ])
        let done = try TransitionEngine.plan(
            .completeProductAudit, on: start.after, by: .triager, arguments: .init(outcome: .actionsAgreed), context: Fixtures.context()
        ).get()
        #expect(done.auditOutcome == .actionsAgreed)
        #expect(done.stateEnteredAt == now)
        #expect(done.event == strings(["transition": "complete_product_audit", "from": "product_audit", "to": "live", "outcome": "actions_agreed"]))
        #expect(done.allowedNext == [.startProductAudit, .withdraw])
    }

    @Test func approvingKeepsTheStateAndSettlesTheSignOffChase() throws {
        let plan = try TransitionEngine.plan(.approveSignOff, on: Fixtures.satisfied(.signoffPending), by: .signOffOwner, context: Fixtures.context())
            .get()
        #expect(plan.stateEnteredAt == nil)
        #expect(plan.after.signOffDecision == .approved)
        #expect(plan.settles == [.signOff])
        #expect(plan.emails == [EmailIntent(kind: .signOffDecision, audience: .team)])
        // The owner may fire nothing once they have decided.
        #expect(plan.next.isEmpty == false)
        #expect(plan.allowedNext == [])
    }

    @Test func thePermitIsTheOnePermissionCheck() throws {
        #expect(TransitionEngine.permit(.goLive, by: .viewer) == .failure(.forbidden(actor: .viewer, transition: .goLive)))
        let permit = try TransitionEngine.permit(.goLive, by: .triager).get()
        #expect(permit.actor == .triager)
        // A permitted firing from the wrong state is refused with what the actor could fire instead.
        let refusal = TransitionEngine.plan(permit, on: Fixtures.satisfied(.built), context: Fixtures.context())
        #expect(refusal == .failure(.illegalFromState(state: .built, transition: .goLive, allowed: [.publishPreview, .withdraw])))
    }
}
