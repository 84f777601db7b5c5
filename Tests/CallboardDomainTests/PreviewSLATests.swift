import Foundation
import Testing

@testable import CallboardDomain

@Suite struct PreviewSLATests {
    let cal = CalendarTests.england

    func at(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }

    @Test func dueAtTheEndOfTheFifthWorkingDay() {
        // Wednesday 25 November 2026, 10:00 → due by the end of Wednesday 2 December.
        let sla = PreviewSLA.start(at: at("2026-11-25T10:00:00Z"), calendar: cal)
        #expect(sla.dueDate == CivilDate(2026, 12, 2))
        #expect(sla.dueAt == at("2026-12-03T00:00:00Z"))
        #expect(sla.excluded.map(\.reason) == ["Saturday", "Sunday"])
        #expect(sla.atRiskAt == at("2026-12-01T00:00:00Z"))  // Tuesday 1 December: one working day left
        #expect(sla.calendarVersion == "test")
        #expect(sla.status(at: at("2026-11-25T10:00:00Z"), calendar: cal) == .init(workingDaysRemaining: 5, atRisk: false, breached: false))
        #expect(sla.status(at: at("2026-12-01T09:00:00Z"), calendar: cal) == .init(workingDaysRemaining: 1, atRisk: true, breached: false))
        #expect(sla.status(at: at("2026-12-02T23:59:00Z"), calendar: cal) == .init(workingDaysRemaining: 0, atRisk: true, breached: false))
        #expect(sla.status(at: at("2026-12-03T00:00:00Z"), calendar: cal) == .init(workingDaysRemaining: 0, atRisk: false, breached: true))
    }

    @Test func completedLateOnALondonEveningCountsFromThatLondonDay() {
        // 23:30 UTC on 29 March 2026 is already Monday 30 March in London (BST).
        let sla = PreviewSLA.start(at: at("2026-03-29T23:30:00Z"), calendar: cal)
        // Tue 31, Wed 1, Thu 2, (Good Friday, weekend, Easter Monday), Tue 7, Wed 8 April.
        // Counting from the UTC date (Sunday 29th) would wrongly give Tuesday 7 April.
        #expect(sla.dueDate == CivilDate(2026, 4, 8))
        #expect(sla.excluded.map(\.reason) == ["Good Friday", "Saturday", "Sunday", "Easter Monday"])
        #expect(sla.dueAt == at("2026-04-08T23:00:00Z"))  // midnight BST
    }

    /// The calendar's verdict and the stored-instant verdict (used by the SQL filters) agree, hour by
    /// hour, for promises started on every day of two years, across weekends, holidays and clock changes.
    @Test func storedInstantsAgreeWithTheCalendar() {
        var start = at("2025-12-01T09:00:00Z")
        while start < at("2027-12-31T00:00:00Z") {
            let sla = PreviewSLA.start(at: start, calendar: cal)
            var now = start
            while now < sla.dueAt.addingTimeInterval(86_400) {
                let s = sla.status(at: now, calendar: cal)
                let f = PreviewSLA.flags(at: now, dueAt: sla.dueAt, atRiskAt: sla.atRiskAt, metAt: nil)
                #expect(s.atRisk == f.atRisk && s.breached == f.breached, "start \(start) now \(now)")
                now = now.addingTimeInterval(3 * 3600)
            }
            start = start.addingTimeInterval(86_400 + 3600)
        }
    }

    @Test func metOnTimeOrLate() {
        var sla = PreviewSLA.start(at: at("2026-11-25T10:00:00Z"), calendar: cal)
        sla.metAt = at("2026-12-02T16:00:00Z")
        #expect(sla.status(at: at("2026-12-10T00:00:00Z"), calendar: cal) == .init(workingDaysRemaining: 0, atRisk: false, breached: false))
        sla.metAt = at("2026-12-03T09:00:00Z")
        #expect(sla.status(at: at("2026-12-10T00:00:00Z"), calendar: cal).breached)
    }
}
