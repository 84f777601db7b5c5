import Foundation

/// Bank holidays per division, from the GOV.UK feed (https://www.gov.uk/bank-holidays.json, Open
/// Government Licence). `version` identifies the snapshot, so every deadline can say which it used.
public struct BankHolidays: Sendable, Equatable {
    public let version: String
    public let titles: [Division: [CivilDate: String]]
    /// The last year the snapshot covers, per division; deadlines past it are `uncertain`.
    public let lastYear: [Division: Int]

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Parses the feed's JSON: `{"england-and-wales": {"division": …, "events": [{"title", "date"}…]}, …}`.
    public static func parse(_ bytes: some Collection<UInt8>, version: String) throws -> BankHolidays {
        let root: JSONValue
        do { root = try JSONValue.parse(bytes) } catch { throw Invalid(description: "not JSON: \(error.reason)") }
        var titles: [Division: [CivilDate: String]] = [:]
        var last: [Division: Int] = [:]
        for division in Division.allCases {
            guard let events = root[division.rawValue]?["events"]?.arrayValue, !events.isEmpty else {
                throw Invalid(description: "no events for \(division.rawValue)")
            }
            var map: [CivilDate: String] = [:]
            for e in events {
                guard let d = e["date"]?.stringValue.flatMap(CivilDate.init(iso:)), let t = e["title"]?.stringValue else {
                    throw Invalid(description: "an event of \(division.rawValue) lacks a valid date or title")
                }
                map[d] = t
            }
            titles[division] = map
            last[division] = map.keys.map(\.year).max()
        }
        return BankHolidays(version: version, titles: titles, lastYear: last)
    }
}

/// A day that is not a working day, and why: shown beside a deadline to explain it.
public struct ExcludedDay: Sendable, Equatable {
    public var date: CivilDate
    public var reason: String
}

public struct Deadline: Sendable, Equatable {
    public var date: CivilDate
    /// Non-working days skipped between the start and the deadline.
    public var excluded: [ExcludedDay]
    /// The deadline lies past the last year the holiday snapshot covers.
    public var uncertain: Bool
}

/// Working days of one division: Monday to Friday, less its bank holidays.
public struct WorkingCalendar: Sendable {
    public let holidays: BankHolidays
    public let division: Division

    public init(holidays: BankHolidays, division: Division) {
        self.holidays = holidays
        self.division = division
    }

    public func exclusion(_ d: CivilDate) -> ExcludedDay? {
        if d.isoWeekday == 6 { return ExcludedDay(date: d, reason: "Saturday") }
        if d.isoWeekday == 7 { return ExcludedDay(date: d, reason: "Sunday") }
        if let t = holidays.titles[division]?[d] { return ExcludedDay(date: d, reason: t) }
        return nil
    }

    public func isWorkingDay(_ d: CivilDate) -> Bool { exclusion(d) == nil }

    /// The `n`th working day after `start` (start itself not counted), with the days skipped.
    public func adding(workingDays n: Int, to start: CivilDate) -> Deadline {
        var d = start
        var counted = 0
        var excluded: [ExcludedDay] = []
        while counted < n {
            d = d.adding(days: 1)
            if let x = exclusion(d) { excluded.append(x) } else { counted += 1 }
        }
        return Deadline(date: d, excluded: excluded, uncertain: d.year > (holidays.lastYear[division] ?? 0))
    }

    /// The last working day before `date`.
    public func previousWorkingDay(before date: CivilDate) -> CivilDate {
        var d = date.adding(days: -1)
        while !isWorkingDay(d) { d = d.adding(days: -1) }
        return d
    }

    /// Working days in (from, to]: 0 when `to` is not after `from`.
    public func workingDays(after from: CivilDate, through to: CivilDate) -> Int {
        guard to > from else { return 0 }
        var n = 0
        var d = from.adding(days: 1)
        while d <= to {
            if isWorkingDay(d) { n += 1 }
            d = d.adding(days: 1)
        }
        return n
    }
}
