/// How often a spreadsheet-fed data set is due (DESIGN §4).
public enum Cadence: String, CaseIterable, Codable, Sendable {
    case weekly, monthly, quarterly
}

/// One reporting period: weeks run Monday to Sunday, months and quarters are calendar ones.
public struct Period: Sendable, Equatable, Hashable {
    public var start: CivilDate
    public var end: CivilDate

    public init(start: CivilDate, end: CivilDate) {
        self.start = start
        self.end = end
    }

    /// The period of `cadence` that contains `date`.
    public static func containing(_ date: CivilDate, cadence: Cadence) -> Period {
        switch cadence {
        case .weekly:
            let monday = date.adding(days: 1 - date.isoWeekday)
            return Period(start: monday, end: monday.adding(days: 6))
        case .monthly:
            let start = CivilDate(date.year, date.month, 1)
            return Period(start: start, end: CivilDate(date.year, date.month, CivilDate.daysIn(month: date.month, year: date.year)))
        case .quarterly:
            let first = (date.month - 1) / 3 * 3 + 1
            let start = CivilDate(date.year, first, 1)
            return Period(start: start, end: CivilDate(date.year, first + 2, CivilDate.daysIn(month: first + 2, year: date.year)))
        }
    }

    /// The period just before this one.
    public func previous(_ cadence: Cadence) -> Period { Period.containing(start.adding(days: -1), cadence: cadence) }
}

/// Where a data set's upload for its latest finished period stands on a given day.
public enum UploadStatus: String, Sendable, Equatable, CaseIterable {
    /// The latest finished period's data has arrived.
    case received
    /// Not yet in, and due within `dueSoonWorkingDays` working days.
    case dueSoon = "due_soon"
    /// Not yet in, and due today.
    case due
    /// Not in, and the due date has passed.
    case overdue
    /// Not yet in, and not due for a while.
    case open
}

/// The rule: data for a period is due N working days after the period ends.
public struct UploadSchedule: Sendable, Equatable {
    public var cadence: Cadence
    public var dueWorkingDaysAfterPeriod: Int

    public init(cadence: Cadence, dueWorkingDaysAfterPeriod: Int) {
        self.cadence = cadence
        self.dueWorkingDaysAfterPeriod = dueWorkingDaysAfterPeriod
    }

    /// The latest period that has ended by `today` (its data is what is owed now).
    public func currentPeriod(on today: CivilDate) -> Period {
        Period.containing(today, cadence: cadence).previous(cadence)
    }

    public func due(for period: Period, calendar: WorkingCalendar) -> Deadline {
        calendar.adding(workingDays: dueWorkingDaysAfterPeriod, to: period.end)
    }

    /// The status on `today`, given whether the current period's upload has arrived.
    public func status(on today: CivilDate, received: Bool, calendar: WorkingCalendar, dueSoonWorkingDays: Int = 3) -> UploadStatus {
        if received { return .received }
        let due = due(for: currentPeriod(on: today), calendar: calendar).date
        if today > due { return .overdue }
        if today == due { return .due }
        return calendar.workingDays(after: today, through: due) <= dueSoonWorkingDays ? .dueSoon : .open
    }
}
