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
        #expect(!ReminderRules.inSendingWindow(at("2026-11-28T12:00:00Z"), calendar: cal, settings: settings))  // Saturday
        #expect(!ReminderRules.inSendingWindow(at("2026-12-25T12:00:00Z"), calendar: cal, settings: settings))  // Christmas Day
        // In summer London is UTC+1: 08:45 UTC is 09:45 BST.
        #expect(ReminderRules.inSendingWindow(at("2026-06-10T08:45:00Z"), calendar: cal, settings: settings))
        #expect(!ReminderRules.inSendingWindow(at("2026-06-10T16:15:00Z"), calendar: cal, settings: settings))
    }

    /// Waiting since Wednesday 18 November: reminders after 2, 7 and 12 working days, then escalation.
    @Test func missingInformationIsChasedThenEscalated() {
        let since = at("2026-11-18T10:00:00Z")
        func owed(_ now: String) -> OwedReminder? {
            ReminderRules.missingInformation(requestID: id, waitingSince: since, now: at(now), calendar: cal, settings: settings).owed.first
        }
        #expect(owed("2026-11-19T10:00:00Z") == nil)
        let first = owed("2026-11-20T10:00:00Z")
        #expect(first?.kind == .missingInformation && first?.audiences == [.serviceContact] && first?.step == 1)
        #expect(first?.dedupKey == "6b168ff2-d4ae-4f7e-8409-3154acdf06e9:missing_information:1794996000:1")
        #expect(owed("2026-11-26T10:00:00Z")?.step == 1)  // 6 working days
        #expect(owed("2026-11-27T10:00:00Z")?.step == 2)  // 7
        #expect(owed("2026-12-04T10:00:00Z")?.step == 3)  // 12
        let escalation = owed("2026-12-11T10:00:00Z")  // 17
        #expect(escalation?.kind == .missingInformationEscalation && escalation?.audiences == [.team])
        #expect(escalation?.dedupKey.hasSuffix(":escalation") == true)
        // The same step always has the same key: schedulers that tick together queue it once.
        #expect(owed("2026-11-27T10:00:00Z")?.dedupKey == owed("2026-12-03T16:00:00Z")?.dedupKey)
    }

    @Test func signOffWaitsThreeWorkingDaysAndSkipsHolidays() {
        // Asked on Tuesday 22 December 2026: Christmas, Boxing Day (substitute Monday 28th) and the weekend do not count.
        let asked = at("2026-12-22T10:00:00Z")
        func owed(_ now: String) -> OwedReminder? {
            ReminderRules.signOffUndecided(requestID: id, askedAt: asked, now: at(now), calendar: cal, settings: settings).owed.first
        }
        // Working days after the 22nd: Wed 23, Thu 24, then Tue 29 is the third.
        #expect(owed("2026-12-28T10:00:00Z") == nil)
        let first = owed("2026-12-29T10:00:00Z")
        #expect(first?.kind == .signOffUndecided && first?.audiences == [.signOffOwner] && first?.step == 1)
    }

    /// The next look is the day the next step falls due (midnight London), and never after the escalation.
    @Test func chasesSayWhenToLookAgain() {
        let since = at("2026-11-18T10:00:00Z")
        func next(_ now: String) -> Date? {
            ReminderRules.missingInformation(requestID: id, waitingSince: since, now: at(now), calendar: cal, settings: settings).next
        }
        #expect(next("2026-11-19T10:00:00Z") == at("2026-11-20T00:00:00Z"))
        #expect(next("2026-11-20T10:00:00Z") == at("2026-11-27T00:00:00Z"))
        #expect(next("2026-12-04T10:00:00Z") == at("2026-12-11T00:00:00Z"))
        #expect(next("2026-12-11T10:00:00Z") == nil)
    }

    @Test func theWindowOpensNextOnAWorkingDayAt0930London() {
        func next(_ now: String) -> Date { ReminderRules.nextWindowStart(after: at(now), calendar: cal, settings: settings) }
        #expect(next("2026-11-25T08:00:00Z") == at("2026-11-25T09:30:00Z"))
        #expect(next("2026-11-27T17:30:00Z") == at("2026-11-30T09:30:00Z"))  // Friday evening → Monday
        #expect(next("2026-12-24T18:00:00Z") == at("2026-12-29T09:30:00Z"))  // over Christmas and the Boxing Day substitute
        #expect(next("2026-06-10T07:00:00Z") == at("2026-06-10T08:30:00Z"))  // 09:30 BST
    }

    /// Promise started Wednesday 18 November: at risk from Tuesday 24th, breached from Thursday 26th.
    @Test func theTeamHearsOnceAtRiskAndOnceBreached() {
        let promise = PreviewSLA.start(at: at("2026-11-18T10:00:00Z"), calendar: cal)
        func outcome(_ now: String) -> RuleOutcome {
            ReminderRules.previewSLA(requestID: id, startedAt: promise.startedAt, dueAt: promise.dueAt, atRiskAt: promise.atRiskAt, now: at(now))
        }
        #expect(outcome("2026-11-23T12:00:00Z") == RuleOutcome(next: at("2026-11-24T00:00:00Z")))
        let risk = outcome("2026-11-24T12:00:00Z")
        #expect(risk.owed.map(\.kind) == [.previewAtRisk] && risk.owed[0].audiences == [.team] && risk.next == at("2026-11-26T00:00:00Z"))
        let broken = outcome("2026-11-26T09:30:00Z")
        #expect(broken.owed.map(\.kind) == [.previewBreached] && broken.next == nil)
        #expect(broken.owed[0].dedupKey == "6b168ff2-d4ae-4f7e-8409-3154acdf06e9:preview_sla:1794996000:breached")
    }

    /// Live on Wednesday 18 November 2026: 30 working days (skipping Christmas, the Boxing Day
    /// substitute and New Year's Day) end on Monday 4 January 2027.
    @Test func theProductAuditIsDueThirtyWorkingDaysAfterGoingLive() {
        let live = at("2026-11-18T10:00:00Z")
        let before = ReminderRules.productAudit(requestID: id, liveSince: live, now: at("2026-12-31T12:00:00Z"), calendar: cal, settings: settings)
        #expect(before == RuleOutcome(next: at("2027-01-04T00:00:00Z")))
        let due = ReminderRules.productAudit(requestID: id, liveSince: live, now: at("2027-01-04T09:30:00Z"), calendar: cal, settings: settings)
        #expect(due.owed.map(\.kind) == [.productAuditDue] && due.owed[0].audiences.isEmpty && due.next == nil)
    }

    /// November's data, due 5 working days after 30 November: Monday 7 December.
    @Test func uploadsAreDueSoonDueThenOverdueWeeklyWithEscalation() {
        let schedule = UploadSchedule(cadence: .monthly, dueWorkingDaysAfterPeriod: 5)
        func owed(_ day: CivilDate, received: Bool = false) -> (OwedReminder?, CivilDate) {
            let r = ReminderRules.upload(
                dataSetID: id, schedule: schedule, today: day, received: received ? [CivilDate(2026, 11, 1)] : [],
                firstOwed: CivilDate(2026, 11, 1), calendar: cal, settings: settings)
            return (r.owed, r.next)
        }
        #expect(owed(CivilDate(2026, 12, 1)).0 == nil && owed(CivilDate(2026, 12, 1)).1 == CivilDate(2026, 12, 2))
        let soon = owed(CivilDate(2026, 12, 2))
        #expect(soon.0?.kind == .uploadDueSoon && soon.0?.audiences == [.uploaders] && soon.1 == CivilDate(2026, 12, 7))
        #expect(soon.0?.dedupKey == "6b168ff2-d4ae-4f7e-8409-3154acdf06e9:upload:2026-11-01:due_soon")
        let due = owed(CivilDate(2026, 12, 7))
        #expect(due.0?.kind == .uploadDue && due.1 == CivilDate(2026, 12, 8))
        let late1 = owed(CivilDate(2026, 12, 8))
        #expect(late1.0?.kind == .uploadOverdue && late1.0?.step == 3 && late1.0?.audiences == [.uploaders] && late1.1 == CivilDate(2026, 12, 15))
        let late2 = owed(CivilDate(2026, 12, 15))
        #expect(late2.0?.dedupKey.hasSuffix(":overdue:2") == true && late2.0?.audiences == [.uploaders] && late2.1 == CivilDate(2026, 12, 22))
        let late3 = owed(CivilDate(2026, 12, 22))
        #expect(late3.0?.audiences == [.uploaders, .serviceContact, .team])
        // The next overdue day would be 31 December (after Christmas and the substitute Boxing Day); December's data is owed from 1 January anyway.
        #expect(late3.1 == CivilDate(2026, 12, 31))
        let received = owed(CivilDate(2026, 12, 8), received: true)
        #expect(received.0 == nil && received.1 == CivilDate(2027, 1, 1))
    }

    /// Every step's next look comes later than the day asked about, so the scheduler always moves on.
    @Test func uploadNextLooksAlwaysMoveForward() {
        for cadence in Cadence.allCases {
            for dueDays in [0, 1, 5, 20] {
                let schedule = UploadSchedule(cadence: cadence, dueWorkingDaysAfterPeriod: dueDays)
                var day = CivilDate(2026, 1, 1)
                while day < CivilDate(2027, 1, 1) {
                    for received in [false, true] {
                        let r = ReminderRules.upload(
                            dataSetID: id, schedule: schedule, today: day, received: received ? [schedule.currentPeriod(on: day).start] : [],
                            firstOwed: CivilDate(2025, 1, 1), calendar: cal, settings: settings)
                        #expect(r.next > day, "\(cadence) \(dueDays) \(day)")
                    }
                    day = day.adding(days: 1)
                }
            }
        }
    }

    /// Weekly data, due 5 working days after each Sunday: the week of 2 November is due Friday
    /// 13 November. Its overdue reminders run on after newer weeks end: Monday 16, 23 and 30
    /// November, the third also to the contact and the team.
    @Test func weeklyOverdueRemindersOutliveTheNextWeek() {
        let schedule = UploadSchedule(cadence: .weekly, dueWorkingDaysAfterPeriod: 5)
        func owed(_ day: CivilDate, received: Set<CivilDate> = []) -> OwedReminder? {
            ReminderRules.upload(
                dataSetID: id, schedule: schedule, today: day, received: received, firstOwed: CivilDate(2026, 11, 2),
                calendar: cal, settings: settings
            ).owed
        }
        #expect(owed(CivilDate(2026, 11, 13))?.dedupKey.hasSuffix(":2026-11-02:due") == true)
        #expect(owed(CivilDate(2026, 11, 16))?.dedupKey.hasSuffix(":2026-11-02:overdue:1") == true)
        #expect(owed(CivilDate(2026, 11, 23))?.dedupKey.hasSuffix(":2026-11-02:overdue:2") == true)
        let third = owed(CivilDate(2026, 11, 30))
        #expect(third?.dedupKey.hasSuffix(":2026-11-02:overdue:3") == true && third?.audiences == [.uploaders, .serviceContact, .team])
        // Once that week is in, the next unreceived week is chased: the week of 9 November, overdue since 23 November.
        #expect(owed(CivilDate(2026, 11, 30), received: [CivilDate(2026, 11, 2)])?.dedupKey.hasSuffix(":2026-11-09:overdue:2") == true)
        // Data for a later week leaves an earlier week with none still owed (and chased).
        #expect(
            owed(CivilDate(2026, 11, 30), received: [CivilDate(2026, 11, 9), CivilDate(2026, 11, 16)])?.dedupKey
                == "6b168ff2-d4ae-4f7e-8409-3154acdf06e9:upload:2026-11-02:overdue:3")
        // Nothing before the data set was set up is owed.
        #expect(
            ReminderRules.upload(
                dataSetID: id, schedule: schedule, today: CivilDate(2026, 11, 16), received: [],
                firstOwed: CivilDate(2026, 11, 9), calendar: cal, settings: settings
            ).owed == nil)
    }

    @Test func actingSettlesTheRulesItAnswers() {
        #expect(ReminderRules.settled(from: .requested, to: .requested, itemsChanged: true, slaChanged: false) == [.missingInformation])
        #expect(ReminderRules.settled(from: .requested, to: .requested, itemsChanged: false, slaChanged: false) == [])
        #expect(
            ReminderRules.settled(from: .requested, to: .infoComplete, itemsChanged: false, slaChanged: true) == [.missingInformation, .previewSLA])
        #expect(ReminderRules.settled(from: .signoffPending, to: .built, itemsChanged: false, slaChanged: false) == [.signOff])
        #expect(
            ReminderRules.settled(from: .signoffPending, to: .signoffPending, itemsChanged: false, slaChanged: false, signOffDecided: true) == [
                .signOff
            ])
        #expect(ReminderRules.settled(from: .built, to: .previewPublished, itemsChanged: false, slaChanged: true) == [.previewSLA])
        #expect(ReminderRules.settled(from: .live, to: .productAudit, itemsChanged: false, slaChanged: false) == [.productAudit])
        #expect(ReminderRules.settled(from: .live, to: .withdrawn, itemsChanged: false, slaChanged: false) == ReminderRule.allCases)
    }

    @Test func evaluateAppliesTheRulesOfTheState() {
        let since = at("2026-11-18T10:00:00Z")
        let now = at("2026-11-20T10:00:00Z")
        func kinds(_ state: RequestState) -> [OwedReminder.Kind] {
            ReminderRules.evaluate(ReminderFacts(id: id, state: state, stateEnteredAt: since), now: now, calendar: cal, settings: settings).owed.map(
                \.kind)
        }
        #expect(kinds(.requested) == [.missingInformation])
        #expect(kinds(.signoffPending) == [])  // 2 working days: the sign-off chase waits 3
        #expect(kinds(.built) == [])
        let promise = PreviewSLA.start(at: since, calendar: cal)
        let late = ReminderFacts(
            id: id, state: .signoffPending, stateEnteredAt: since, slaStartedAt: since, slaDueAt: promise.dueAt,
            slaAtRiskAt: promise.atRiskAt)
        #expect(
            ReminderRules.evaluate(late, now: at("2026-11-26T10:00:00Z"), calendar: cal, settings: settings).owed.map(\.kind)
                == [.signOffUndecided, .previewBreached])
        var approved = late
        approved.signOffDecided = true  // approved, waiting to be built: nobody is chased to decide again
        #expect(
            ReminderRules.evaluate(approved, now: at("2026-11-26T10:00:00Z"), calendar: cal, settings: settings).owed.map(\.kind)
                == [.previewBreached])
        var met = late
        met.slaMetAt = at("2026-11-20T10:00:00Z")
        #expect(
            ReminderRules.evaluate(met, now: at("2026-11-26T10:00:00Z"), calendar: cal, settings: settings).owed.map(\.kind) == [.signOffUndecided])
    }
}
