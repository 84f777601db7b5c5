/// How a data set's uploads kept to their schedule over a span of days.
public struct UploadPunctuality: Sendable, Equatable, Codable {
    /// Periods whose data arrived by the due date.
    public var onTime: Int
    /// Working days late, one entry per period whose data arrived after its due date.
    public var lateWorkingDays: [Int]
    /// Periods past their due date with nothing received.
    public var missing: Int

    public var late: Int { lateWorkingDays.count }

    /// Tallies the periods that end within `span` and on or after the day the data set was created:
    /// those received (on time or late by how many working days) and those past due with nothing
    /// (missing); a period not yet due and not yet received is not counted. `received` gives the
    /// London date each period's first upload arrived, by the period's first day.
    public static func tally(
        schedule: UploadSchedule, createdOn: CivilDate, received: [CivilDate: CivilDate], span: StatsPeriod, today: CivilDate,
        calendar: WorkingCalendar
    ) -> UploadPunctuality {
        var result = UploadPunctuality(onTime: 0, lateWorkingDays: [], missing: 0)
        var period = Period.containing(min(span.to, today), cadence: schedule.cadence)
        // Walk back from the latest period; bounded by the span (at most ten years of weeks).
        while period.end >= span.from, period.end >= createdOn {
            if period.end <= span.to {
                let due = schedule.due(for: period, calendar: calendar).date
                if let arrived = received[period.start] {
                    if arrived <= due {
                        result.onTime += 1
                    } else {
                        result.lateWorkingDays.append(calendar.workingDays(after: due, through: arrived))
                    }
                } else if today > due {
                    result.missing += 1
                }
            }
            period = period.previous(schedule.cadence)
        }
        result.lateWorkingDays.reverse()  // oldest period first
        return result
    }
}
