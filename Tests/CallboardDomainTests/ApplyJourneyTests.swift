import CallboardDomain
import Foundation
import Testing

@Suite struct ApplyJourneyTests {
    @Test func stepsFollowTheKind() {
        #expect(ApplyStep.steps(for: nil).map(\.rawValue) == ["kind", "organisation", "contact", "sign_off_contact", "service"])
        #expect(ApplyStep.steps(for: .transactional).count == 10)
        #expect(ApplyStep.service.next(for: .nonTransactional) == nil)
        #expect(ApplyStep.service.next(for: .transactional) == .costPerTransaction)
        #expect(ApplyStep.kind.previous(for: .transactional) == nil)
        #expect(ApplyStep.allCases.filter(\.isRequired) == [.kind, .organisation, .contact, .signOffContact, .service])
    }

    @Test func onlyAllowedDomainsAndTheirSubdomainsMayApply() {
        let domains = ["gov.uk", "nhs.net"]
        #expect(ApplyRules.domainAllowed("ada@dvla.gov.uk", domains))
        #expect(ApplyRules.domainAllowed("ada@GOV.UK", domains))
        #expect(ApplyRules.domainAllowed("ada@nhs.net", domains))
        #expect(!ApplyRules.domainAllowed("ada@notgov.uk", domains))
        #expect(!ApplyRules.domainAllowed("ada@gov.uk.example.com", domains))
        #expect(!ApplyRules.domainAllowed("ada@example.com", []))
    }

    @Test func startPagesAreComparedWithoutCaseSlashOrFragment() {
        #expect(ApplyRules.comparableURL(" https://www.GOV.uk/Renew/#start ") == "https://www.gov.uk/renew")
    }

    @Test func londonTimesNameTheirZone() {
        // 2026-12-01 10:05 UTC is GMT; 2026-07-01 09:05 UTC is 10:05 BST.
        #expect(London.dateTimeText(Date(timeIntervalSince1970: 1_796_119_500)) == "Tuesday 1 December 2026, 10:05am GMT")
        #expect(London.dateTimeText(Date(timeIntervalSince1970: 1_782_896_700)) == "Wednesday 1 July 2026, 10:05am BST")
        #expect(London.dateTimeText(Date(timeIntervalSince1970: 1_796_083_200)) == "Tuesday 1 December 2026, 12:00am GMT")
        #expect(London.dateTimeText(Date(timeIntervalSince1970: 1_796_126_400)) == "Tuesday 1 December 2026, 12:00pm GMT")
    }
}
