import Foundation

/// The promise of a preview within N working days of complete information (DESIGN §4).
/// Due at the end of the Nth working day after the day information was completed (London time).
public struct PreviewSLA: Sendable, Equatable {
    public var startedAt: Date
    public var dueDate: CivilDate
    /// Midnight in London at the end of `dueDate`.
    public var dueAt: Date
    /// From this instant at most one working day is left: the start of the last working day before `dueDate`.
    public var atRiskAt: Date
    /// The weekends and holidays that pushed `dueDate` out: they explain it.
    public var excluded: [ExcludedDay]
    /// `dueDate` is past the bank-holiday snapshot: it may move when the feed is refreshed.
    public var uncertain: Bool
    public var calendarVersion: String
    public var metAt: Date?

    public static func start(at instant: Date, workingDays: Int = 5, calendar: WorkingCalendar) -> PreviewSLA {
        let deadline = calendar.adding(workingDays: workingDays, to: London.date(of: instant))
        return PreviewSLA(
            startedAt: instant, dueDate: deadline.date, dueAt: London.instant(deadline.date.adding(days: 1)),
            atRiskAt: London.instant(calendar.previousWorkingDay(before: deadline.date)), excluded: deadline.excluded, uncertain: deadline.uncertain,
            calendarVersion: calendar.holidays.version, metAt: nil)
    }

    public struct Status: Sendable, Equatable {
        public var workingDaysRemaining: Int
        public var atRisk: Bool
        public var breached: Bool
    }

    /// The same verdicts from the stored instants alone (what the list filters use in SQL):
    /// at risk from `atRiskAt` until due, breached once due passes unmet or when met late.
    public static func flags(at now: Date, dueAt: Date, atRiskAt: Date, metAt: Date?) -> (atRisk: Bool, breached: Bool) {
        if let met = metAt { return (false, met >= dueAt) }
        return (now >= atRiskAt && now < dueAt, now >= dueAt)
    }

    /// Where the promise stands at `now`: working days left after today (0 on the due date),
    /// at risk with at most one left, breached once due passes unmet (or when met late).
    public func status(at now: Date, calendar: WorkingCalendar) -> Status {
        if let met = metAt { return Status(workingDaysRemaining: 0, atRisk: false, breached: met >= dueAt) }
        let remaining = calendar.workingDays(after: London.date(of: now), through: dueDate)
        let breached = now >= dueAt
        return Status(workingDaysRemaining: breached ? 0 : remaining, atRisk: !breached && remaining <= 1, breached: breached)
    }
}
