import Testing

@testable import CallboardDomain

@Suite struct UploadScheduleTests {
    let cal = CalendarTests.england
    func d(_ s: String) -> CivilDate { CivilDate(iso: s)! }

    @Test func periodsAreMondayWeeksCalendarMonthsAndQuarters() {
        #expect(Period.containing(d("2026-11-25"), cadence: .weekly) == Period(start: d("2026-11-23"), end: d("2026-11-29")))
        #expect(Period.containing(d("2026-11-29"), cadence: .weekly) == Period(start: d("2026-11-23"), end: d("2026-11-29")))
        #expect(Period.containing(d("2024-02-10"), cadence: .monthly) == Period(start: d("2024-02-01"), end: d("2024-02-29")))
        #expect(Period.containing(d("2026-11-25"), cadence: .quarterly) == Period(start: d("2026-10-01"), end: d("2026-12-31")))
        #expect(Period.containing(d("2027-01-01"), cadence: .weekly).previous(.weekly) == Period(start: d("2026-12-21"), end: d("2026-12-27")))
        #expect(Period.containing(d("2027-01-15"), cadence: .quarterly).previous(.quarterly) == Period(start: d("2026-10-01"), end: d("2026-12-31")))
    }

    @Test func dueNWorkingDaysAfterThePeriodEnds() {
        let monthly = UploadSchedule(cadence: .monthly, dueWorkingDaysAfterPeriod: 5)
        // December 2026 ends on a Thursday; Christmas is past, New Year's Day (Fri 1 Jan 2027) is skipped.
        let period = monthly.currentPeriod(on: d("2027-01-04"))
        #expect(period == Period(start: d("2026-12-01"), end: d("2026-12-31")))
        #expect(monthly.due(for: period, calendar: cal).date == d("2027-01-08"))
        // Data for the week of 21–27 December 2026 is due 3 working days later: 28 Dec (Boxing Day substitute) is skipped.
        let weekly = UploadSchedule(cadence: .weekly, dueWorkingDaysAfterPeriod: 3)
        #expect(weekly.due(for: Period(start: d("2026-12-21"), end: d("2026-12-27")), calendar: cal).date == d("2026-12-31"))
    }

    @Test func statusThroughThePeriod() {
        let s = UploadSchedule(cadence: .monthly, dueWorkingDaysAfterPeriod: 5)
        // November 2026's data is due Monday 7 December.
        #expect(s.status(on: d("2026-12-01"), received: false, calendar: cal) == .open)
        #expect(s.status(on: d("2026-12-02"), received: false, calendar: cal) == .dueSoon)
        #expect(s.status(on: d("2026-12-07"), received: false, calendar: cal) == .due)
        #expect(s.status(on: d("2026-12-08"), received: false, calendar: cal) == .overdue)
        #expect(s.status(on: d("2026-12-08"), received: true, calendar: cal) == .received)
    }
}
