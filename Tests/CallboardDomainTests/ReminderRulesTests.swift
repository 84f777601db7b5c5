import Foundation
import Testing
@testable import CallboardDomain

@Suite struct ReminderRulesTests {
    let cal = CalendarTests.england
    let settings = ReminderSettings()
    let id = UUID(uuidString: "6B168FF2-D4AE-4F7E-8409-3154ACDF06E9")!

    func at(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }

    @Test func theSendingWindowIsWorkingDays0930To1700London() {
        #expect(ReminderRules.inSendingWindow(at("2026-11-25T09:30:00Z"), calendar: cal, settings: settings))
        #expect(!ReminderRules.inSendingWindow(at("2026-11-25T09:29:00Z"), calendar: cal, settings: settings))
        #expect(!ReminderRules.inSendingWindow(at("2026-11-25T17:00:00Z"), calendar: cal, settings: settings))
        #expect(!ReminderRules.inSendingWindow(at("2026-11-28T12:00:00Z"), calendar: cal, settings: settings))   // Saturday
        #expect(!ReminderRules.inSendingWindow(at("2026-12-25T12:00:00Z"), calendar: cal, settings: settings))   // Christmas Day
        // In summer London is UTC+1: 08:45 UTC is 09:45 BST.
        #expect(ReminderRules.inSendingWindow(at("2026-06-10T08:45:00Z"), calendar: cal, settings: settings))
        #expect(!ReminderRules.inSendingWindow(at("2026-06-10T16:15:00Z"), calendar: cal, settings: settings))
    }

    /// Waiting since Wednesday 18 November: reminders after 2, 7 and 12 working days, then escalation.
    @Test func missingInformationIsChasedThenEscalated() {
        let since = at("2026-11-18T10:00:00Z")
        func owed(_ now: String) -> OwedReminder? {
            ReminderRules.missingInformation(requestID: id, waitingSince: since, now: at(now), calendar: cal, settings: settings)
        }
        #expect(owed("2026-11-19T10:00:00Z") == nil)
        let first = owed("2026-11-20T10:00:00Z")
        #expect(first?.kind == .missingInformation && first?.audience == .serviceContact && first?.step == 1)
        #expect(first?.dedupKey == "6b168ff2-d4ae-4f7e-8409-3154acdf06e9:missing_information:1794996000:1")
        #expect(owed("2026-11-26T10:00:00Z")?.step == 1)   // 6 working days
        #expect(owed("2026-11-27T10:00:00Z")?.step == 2)   // 7
        #expect(owed("2026-12-04T10:00:00Z")?.step == 3)   // 12
        let escalation = owed("2026-12-11T10:00:00Z")      // 17
        #expect(escalation?.kind == .missingInformationEscalation && escalation?.audience == .team)
        #expect(escalation?.dedupKey.hasSuffix(":escalation") == true)
        // The same step always has the same key: schedulers that tick together queue it once.
        #expect(owed("2026-11-27T10:00:00Z")?.dedupKey == owed("2026-12-03T16:00:00Z")?.dedupKey)
    }

    @Test func signOffWaitsThreeWorkingDaysAndSkipsHolidays() {
        // Asked on Tuesday 22 December 2026: Christmas, Boxing Day (substitute Monday 28th) and the weekend do not count.
        let asked = at("2026-12-22T10:00:00Z")
        func owed(_ now: String) -> OwedReminder? {
            ReminderRules.signOffUndecided(requestID: id, askedAt: asked, now: at(now), calendar: cal, settings: settings)
        }
        // Working days after the 22nd: Wed 23, Thu 24, then Tue 29 is the third.
        #expect(owed("2026-12-28T10:00:00Z") == nil)
        let first = owed("2026-12-29T10:00:00Z")
        #expect(first?.kind == .signOffUndecided && first?.audience == .signOffOwner && first?.step == 1)
    }
}
