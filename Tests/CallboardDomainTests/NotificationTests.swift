import Testing

@testable import CallboardDomain

@Suite struct NotificationTests {
    @Test func transitionsNotifyTheRightPeople() {
        func intents(_ t: TransitionName) -> [String] {
            Notifications.intents(for: Lifecycle.definition(t)).map { "\($0.kind.rawValue)→\($0.audience.rawValue)" }
        }
        #expect(intents(.requestSignOff) == ["sign_off_request→sign_off_owner"])
        #expect(intents(.approveSignOff) == ["sign_off_decision→team"])
        #expect(intents(.requestChanges) == ["sign_off_decision→team"])
        #expect(intents(.publishPreview) == ["preview_published→service_contact", "preview_published→sign_off_owner"])
        #expect(intents(.goLive) == ["live→service_contact", "live→sign_off_owner"])
        #expect(intents(.withdraw) == ["withdrawn→service_contact"])
        #expect(intents(.reopenInformation) == ["information_reopened→service_contact"])
        #expect(intents(.startProductAudit) == ["product_audit_started→team", "product_audit_started→service_contact"])
        #expect(intents(.completeInformation) == [])
        #expect(intents(.markBuilt) == [])
    }

    @Test func backoffIsCappedExponentialWithFullJitter() {
        let p = RetryPolicy(baseSeconds: 30, capSeconds: 3600, maxAttempts: 8)
        #expect((1...9).map { p.ceiling(afterAttempt: $0) } == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600])
        #expect(p.delay(afterAttempt: 3, unit: 0) == 0)
        #expect(p.delay(afterAttempt: 3, unit: 0.5) == 60)
        #expect(p.delay(afterAttempt: 100, unit: 0.25) == 900)
    }
}
