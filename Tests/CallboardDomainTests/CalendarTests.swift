import Foundation
import Testing

@testable import CallboardDomain

@Suite struct CalendarTests {
    static let holidays: BankHolidays = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try! Data(contentsOf: root.appendingPathComponent("Sources/CallboardServices/Resources/bank-holidays.json"))
        return try! BankHolidays.parse(data, version: "test")
    }()
    static let england = WorkingCalendar(holidays: holidays, division: .englandAndWales)
    static let scotland = WorkingCalendar(holidays: holidays, division: .scotland)

    static func d(_ s: String) -> CivilDate { CivilDate(iso: s)! }

    @Test func civilDateArithmetic() {
        #expect(CivilDate(daysSinceEpoch: 0) == CivilDate(1970, 1, 1))
        #expect(Self.d("2024-02-29").adding(days: 1) == CivilDate(2024, 3, 1))
        #expect(Self.d("2026-12-31").adding(days: 1) == CivilDate(2027, 1, 1))
        #expect(Self.d("2026-11-25").isoWeekday == 3)  // a Wednesday
        #expect(CivilDate(iso: "2026-02-29") == nil)
        #expect(CivilDate(iso: "2026-13-01") == nil)
        for n in stride(from: -800_000, through: 800_000, by: 997) {
            #expect(CivilDate(daysSinceEpoch: n).daysSinceEpoch == n)
        }
    }

    @Test func substituteHolidaysAreNotWorkingDays() {
        for s in ["2020-12-25", "2020-12-28", "2021-12-27", "2021-12-28", "2022-06-02", "2022-06-03", "2022-09-19"] {
            #expect(!Self.england.isWorkingDay(Self.d(s)), "\(s)")
        }
        #expect(Self.england.exclusion(Self.d("2020-12-28"))?.reason == "Boxing Day")
        #expect(Self.england.isWorkingDay(Self.d("2020-12-29")))
    }

    @Test func scotlandHasItsOwnHolidays() {
        #expect(!Self.scotland.isWorkingDay(Self.d("2026-01-02")))
        #expect(Self.england.isWorkingDay(Self.d("2026-01-02")))
        #expect(!Self.scotland.isWorkingDay(Self.d("2026-11-30")))  // St Andrew's Day
        #expect(Self.england.isWorkingDay(Self.d("2026-11-30")))
        #expect(Self.scotland.exclusion(Self.d("2026-11-30"))?.reason == "St Andrew’s Day")
    }

    /// Five working days from 23 December 2020 skip Christmas, the substitute Boxing Day and a weekend.
    @Test func deadlinesExplainTheDaysTheySkip() {
        let due = Self.england.adding(workingDays: 5, to: Self.d("2020-12-23"))
        #expect(due.date == Self.d("2021-01-04"))
        #expect(
            due.excluded.map(\.date.description) == [
                "2020-12-25", "2020-12-26", "2020-12-27", "2020-12-28", "2021-01-01", "2021-01-02", "2021-01-03",
            ])
        #expect(due.excluded.map(\.reason) == ["Christmas Day", "Saturday", "Sunday", "Boxing Day", "New Year’s Day", "Saturday", "Sunday"])
        #expect(!due.uncertain)
        // The Jubilee: Thursday 2 and Friday 3 June 2022.
        #expect(Self.england.adding(workingDays: 1, to: Self.d("2022-06-01")).date == Self.d("2022-06-06"))
        // Scotland's 2 January.
        #expect(Self.scotland.adding(workingDays: 1, to: Self.d("2025-12-31")).date == Self.d("2026-01-05"))
        #expect(Self.england.adding(workingDays: 1, to: Self.d("2025-12-31")).date == Self.d("2026-01-02"))
    }

    @Test func pastTheSnapshotADeadlineIsUncertain() {
        #expect(Self.holidays.lastYear[.englandAndWales] == 2028)
        let late = Self.england.adding(workingDays: 5, to: Self.d("2028-12-28"))
        #expect(late.date == Self.d("2029-01-04"))  // 1 January 2029 is not in the snapshot, so it counts
        #expect(late.uncertain)
        let known = Self.england.adding(workingDays: 5, to: Self.d("2028-12-20"))
        #expect(known.date == Self.d("2028-12-29"))
        #expect(!known.uncertain)
    }

    @Test func countingWorkingDays() {
        #expect(Self.england.workingDays(after: Self.d("2026-11-25"), through: Self.d("2026-12-02")) == 5)
        #expect(Self.england.workingDays(after: Self.d("2026-12-02"), through: Self.d("2026-11-25")) == 0)
    }

    /// Properties over every start day of 2012–2027 in every division: a deadline is a working day,
    /// and counting back gives the number added.
    @Test(arguments: Division.allCases)
    func deadlinesLandOnWorkingDays(_ division: Division) {
        let cal = WorkingCalendar(holidays: Self.holidays, division: division)
        var day = Self.d("2012-01-01")
        while day < Self.d("2028-01-01") {
            for n in [1, 5] {
                let due = cal.adding(workingDays: n, to: day)
                #expect(cal.isWorkingDay(due.date))
                #expect(cal.workingDays(after: day, through: due.date) == n)
            }
            day = day.adding(days: 1)
        }
    }

    @Test func londonDatesFollowTheClockChanges() {
        // 29 March 2026: clocks go forward at 01:00 UTC. 23:30 UTC on the 29th is 00:30 BST on the 30th.
        #expect(London.date(of: Date(timeIntervalSince1970: 1_774_827_000)) == Self.d("2026-03-30"))
        // In winter 23:30 UTC is still the same day in London.
        #expect(London.date(of: Date(timeIntervalSince1970: 1_767_223_800)) == Self.d("2025-12-31"))
        // 25 October 2026: clocks go back at 01:00 UTC; midnight London on the 26th is 00:00 UTC.
        #expect(London.instant(Self.d("2026-10-26")) == Date(timeIntervalSince1970: 1_792_972_800))
        // Midnight London on 30 March 2026 (BST) is 23:00 UTC the day before.
        #expect(London.instant(Self.d("2026-03-30")) == Date(timeIntervalSince1970: 1_774_825_200))
    }

    @Test func malformedFeedsAreRefused() {
        #expect(throws: BankHolidays.Invalid.self) { try BankHolidays.parse(Array("{}".utf8), version: "x") }
        #expect(throws: BankHolidays.Invalid.self) { try BankHolidays.parse(Array("[".utf8), version: "x") }
    }
}
