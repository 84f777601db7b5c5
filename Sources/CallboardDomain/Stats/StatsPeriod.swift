/// The span the team's figures cover, in London dates, both ends included: a calendar month
/// (`2026-11`), a quarter (`2026-Q3`), a UK financial year April to March (`FY2025-26`), or any
/// `from`/`to` dates; by default the last 12 months including the current one.
public struct StatsPeriod: Sendable, Equatable {
    public var from: CivilDate
    public var to: CivilDate
    public var label: String

    public init(from: CivilDate, to: CivilDate, label: String) {
        self.from = from
        self.to = to
        self.label = label
    }

    /// The longest span asked for at once: ten years keeps every figure's months bounded.
    public static let maximumDays = 3_660

    public static func lastTwelveMonths(endingOn today: CivilDate) -> StatsPeriod {
        var year = today.year
        var month = today.month - 11
        if month < 1 {
            month += 12
            year -= 1
        }
        let from = CivilDate(year, month, 1)
        return StatsPeriod(from: from, to: today, label: "\(from.monthText) to \(today.monthText)")
    }

    /// `2026-11`, `2026-Q3` or `FY2025-26`; nil when the text is none of them.
    public static func named(_ text: String) -> StatsPeriod? {
        let t = text.uppercased()
        let digits = { (s: Substring) -> Int? in s.allSatisfy(\.isASCII) ? Int(s) : nil }
        if t.hasPrefix("FY"), t.count == 9 {
            let parts = t.dropFirst(2).split(separator: "-")
            guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let start = digits(parts[0]), let end = digits(parts[1]),
                (start + 1) % 100 == end, (2000...2100).contains(start)
            else { return nil }
            return StatsPeriod(
                from: CivilDate(start, 4, 1), to: CivilDate(start + 1, 3, 31), label: "Financial year \(start) to \(start + 1)")
        }
        let parts = t.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, let year = digits(parts[0]), (2000...2100).contains(year) else { return nil }
        if parts[1].hasPrefix("Q"), parts[1].count == 2, let q = digits(parts[1].dropFirst()), (1...4).contains(q) {
            let first = (q - 1) * 3 + 1
            return StatsPeriod(
                from: CivilDate(year, first, 1), to: CivilDate(year, first + 2, CivilDate.daysIn(month: first + 2, year: year)),
                label: "Quarter \(q) of \(year) (\(CivilDate.monthNames[first - 1]) to \(CivilDate.monthNames[first + 1]))")
        }
        guard parts[1].count == 2, let month = digits(parts[1]), (1...12).contains(month) else { return nil }
        let from = CivilDate(year, month, 1)
        return StatsPeriod(from: from, to: CivilDate(year, month, CivilDate.daysIn(month: month, year: year)), label: from.monthText)
    }

    /// Explicit dates: `to` on or after `from`, at most `maximumDays` apart.
    public static func between(_ from: CivilDate, _ to: CivilDate) -> StatsPeriod? {
        guard to >= from, to.daysSinceEpoch - from.daysSinceEpoch < maximumDays else { return nil }
        return StatsPeriod(from: from, to: to, label: "\(from.longText) to \(to.longText)")
    }

    /// The calendar months the span touches, as `YYYY-MM`, in order.
    public var months: [String] {
        var out: [String] = []
        var y = from.year
        var m = from.month
        while y < to.year || (y == to.year && m <= to.month) {
            out.append(Self.monthKey(y, m))
            m += 1
            if m > 12 {
                m = 1
                y += 1
            }
        }
        return out
    }

    public static func monthKey(_ year: Int, _ month: Int) -> String {
        "\(year)-" + (month < 10 ? "0\(month)" : "\(month)")
    }

    /// "Nov 2026" for a `YYYY-MM` key.
    public static func shortMonth(_ key: String) -> String {
        let parts = key.split(separator: "-")
        guard parts.count == 2, let y = Int(parts[0]), let m = Int(parts[1]), (1...12).contains(m) else { return key }
        return "\(CivilDate.monthNames[m - 1].prefix(3)) \(y)"
    }
}

extension CivilDate {
    /// "November 2026".
    public var monthText: String { "\(Self.monthNames[month - 1]) \(year)" }
}
