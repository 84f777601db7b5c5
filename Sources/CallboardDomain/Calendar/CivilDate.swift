import Foundation

/// A date on the calendar, without a time or a zone (what "a working day" is about).
public struct CivilDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init(_ year: Int, _ month: Int, _ day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// `YYYY-MM-DD`; nil for anything else or an impossible date.
    public init?(iso: String) {
        let parts = iso.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m),
            (1...CivilDate.daysIn(month: m, year: y)).contains(d)
        else { return nil }
        self.init(y, m, d)
    }

    public var description: String {
        String(format: "%04d-%02d-%02d", year, month, day)
    }

    /// Days since 1970-01-01 (H. Hinnant's days_from_civil): exact for the proleptic Gregorian calendar.
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public init(daysSinceEpoch z0: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    public func adding(days n: Int) -> CivilDate { CivilDate(daysSinceEpoch: daysSinceEpoch + n) }

    /// 1 = Monday … 7 = Sunday (ISO 8601).
    public var isoWeekday: Int {
        let d = (daysSinceEpoch + 3) % 7  // 1970-01-01 was a Thursday
        return (d < 0 ? d + 7 : d) + 1
    }

    public var isWeekend: Bool { isoWeekday >= 6 }

    public static func < (a: CivilDate, b: CivilDate) -> Bool { a.daysSinceEpoch < b.daysSinceEpoch }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

/// Calendar reasoning happens in Europe/London; instants are UTC.
extension CivilDate {
    static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    static let monthNames = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ]

    /// GOV.UK style: "Wednesday 2 December 2026".
    public var longText: String { "\(Self.weekdayNames[isoWeekday - 1]) \(day) \(Self.monthNames[month - 1]) \(year)" }
}

public enum London {
    static let zone = TimeZone(identifier: "Europe/London")!

    /// The London calendar date of an instant (BST or GMT as it applied then).
    public static func date(of instant: Date) -> CivilDate {
        let offset = zone.secondsFromGMT(for: instant)
        let local = Int((instant.timeIntervalSince1970 + Double(offset)).rounded(.down))
        return CivilDate(daysSinceEpoch: Int((Double(local) / 86_400).rounded(.down)))
    }

    /// London's offset from UTC at an instant, in seconds (3600 in summer).
    public static func offsetSeconds(at instant: Date) -> Int { zone.secondsFromGMT(for: instant) }

    /// The instant London's clocks show `hour:minute` on `date`.
    public static func instant(_ date: CivilDate, hour: Int = 0, minute: Int = 0) -> Date {
        let naive = Double(date.daysSinceEpoch * 86_400 + hour * 3600 + minute * 60)
        // The offset at the naive instant is right except within an hour of a change; one correction settles it.
        let first = Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: naive)))
        let second = Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: naive - first)))
        return Date(timeIntervalSince1970: naive - second)
    }
}
