import Foundation

/// Every problem of a refused query, each at `/query/<parameter>`.
public struct QueryInvalid: Error, Sendable, Equatable {
    public var errors: [FieldError]
}

/// A read of a data set's records (`GET /data/{group}/{type}`), as the Performance Platform's
/// read API took it: `start_at`/`end_at`, `filter_by=field:value` (repeatable),
/// `period=week|month|quarter`, `group_by`, `collect=field:sum|mean|count` (repeatable),
/// `sort_by=field:ascending|descending`, `limit`. Parsed whole: every problem is reported.
public struct DataQuery: Sendable, Equatable {
    public enum PeriodUnit: String, CaseIterable, Sendable { case week, month, quarter }
    public enum Method: String, CaseIterable, Sendable { case sum, mean, count }
    public struct Collect: Sendable, Equatable, Hashable {
        public var field: String
        public var method: Method
        /// The output key: `count:sum`.
        public var key: String { "\(field):\(method.rawValue)" }
    }
    public struct Filter: Sendable, Equatable {
        public var field: String
        public var value: String
        public init(field: String, value: String) {
            self.field = field
            self.value = value
        }
    }
    public struct Sort: Sendable, Equatable {
        public var field: String
        public var descending: Bool
        public init(field: String, descending: Bool) {
            self.field = field
            self.descending = descending
        }
    }

    public var startAt: Date?
    public var endAt: Date?
    public var filters: [Filter] = []
    public var period: PeriodUnit?
    public var groupBy: String?
    public var collect: [Collect] = []
    public var sort: Sort?
    public var limit: Int

    public init(limit: Int = maxLimit) { self.limit = limit }

    public static let maxLimit = 10_000
    /// Each filter and collect is a clause of the query: a few are what a dashboard needs.
    public static let maxFilters = 10
    public static let maxCollects = 10
    /// Past this many problems the rest are not listed.
    public static let maxErrors = 20
    public static let parameters = ["start_at", "end_at", "filter_by", "period", "group_by", "collect", "sort_by", "limit"]

    /// Whether rows are periods and groups rather than records.
    public var isGrouped: Bool { period != nil || groupBy != nil }

    /// `pairs` in the order given; `fields` the data set's declared fields (empty: any field).
    public static func parse(_ pairs: [(String, String)], fields: [DataField]) -> Result<DataQuery, QueryInvalid> {
        var errors: [FieldError] = []
        var q = DataQuery(limit: maxLimit)
        let declared = Dictionary(fields.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        func add(_ key: String, _ message: String) {
            if errors.count < maxErrors { errors.append(FieldError(pointer: "/query/\(DataRecords.printable(key))", message: message)) }
        }
        func field(_ key: String, _ name: String, allowTimestamp: Bool = false) -> String? {
            let f = name.lowercased()
            if allowTimestamp, f == "_timestamp" || f == "_id" { return f }
            guard DataRecords.validKey(f), !f.hasPrefix("_") else {
                add(key, "\"\(DataRecords.printable(name))\" is not a field name")
                return nil
            }
            if !declared.isEmpty, declared[f] == nil {
                add(key, "\(f) is not a field of this data set; its fields are \(declared.keys.sorted().joined(separator: ", "))")
                return nil
            }
            return f
        }
        var seen: Set<String> = []
        for (key, value) in pairs {
            if value.unicodeScalars.contains("\u{0}") {
                add(key, "must not contain the NUL character")
                continue
            }
            if ["start_at", "end_at", "period", "group_by", "sort_by", "limit"].contains(key) {
                if seen.contains(key) {
                    add(key, "is given more than once")
                    continue
                }
                seen.insert(key)
            }
            switch key {
            case "start_at", "end_at":
                guard let t = instant(value) else {
                    add(key, "must be a date (2026-11-01) or an ISO 8601 time with a UTC offset, like 2026-11-01T00:00:00+00:00")
                    continue
                }
                if key == "start_at" { q.startAt = t } else { q.endAt = t }
            case "filter_by":
                guard let colon = value.firstIndex(of: ":") else {
                    add(key, "must be field:value, like channel:online")
                    continue
                }
                guard q.filters.count < maxFilters else {
                    add(key, "is given more than \(maxFilters) times")
                    continue
                }
                if let f = field(key, String(value[..<colon])) {
                    q.filters.append(Filter(field: f, value: String(value[value.index(after: colon)...])))
                }
            case "period":
                guard let p = PeriodUnit(rawValue: value) else {
                    add(key, "must be one of: week, month, quarter")
                    continue
                }
                q.period = p
            case "group_by":
                q.groupBy = field(key, value)
            case "collect":
                let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2, let m = Method(rawValue: parts[1]) else {
                    add(key, "must be field:sum, field:mean or field:count, like count:sum")
                    continue
                }
                guard let f = field(key, parts[0]) else { continue }
                if m != .count, let t = declared[f], t != .number {
                    add(key, "\(f) is a \(t.rawValue) field: only count applies to it")
                    continue
                }
                let c = Collect(field: f, method: m)
                if q.collect.contains(c) {
                    add(key, "asks for \(c.key) twice")
                } else if q.collect.count == maxCollects {
                    add(key, "is given more than \(maxCollects) times")
                } else {
                    q.collect.append(c)
                }
            case "sort_by":
                guard let colon = value.lastIndex(of: ":"), ["ascending", "descending"].contains(value[value.index(after: colon)...]) else {
                    add(key, "must be field:ascending or field:descending, like _timestamp:descending")
                    continue
                }
                // Checked below, once it is known whether rows are records or groups.
                q.sort = Sort(field: value[..<colon].lowercased(), descending: value.hasSuffix(":descending"))
            case "limit":
                guard let n = Int(value), (1...maxLimit).contains(n) else {
                    add(key, "must be a whole number from 1 to \(maxLimit)")
                    continue
                }
                q.limit = n
            default:
                add(key, "is not a parameter here; parameters are: " + parameters.joined(separator: ", "))
            }
        }
        if let s = q.startAt, let e = q.endAt, e <= s { add("end_at", "must be after start_at") }
        if !q.collect.isEmpty, !q.isGrouped { add("collect", "needs period or group_by") }
        if let s = q.sort {
            if q.isGrouped {
                // Grouped rows sort by what they carry: the period, the count, the group, or a collected value.
                let keys = ["_timestamp", "_start_at", "_count"] + (q.groupBy.map { [$0] } ?? []) + q.collect.map(\.key)
                if !keys.contains(s.field) {
                    add("sort_by", "grouped rows sort by _start_at, _count\(q.groupBy.map { ", \($0)" } ?? "") or a collected value like count:sum")
                }
            } else if s.field.contains(":") {
                add("sort_by", "records sort by _timestamp, _id or a field")
            } else {
                _ = field("sort_by", s.field, allowTimestamp: true)
            }
        }
        return errors.isEmpty ? .success(q) : .failure(QueryInvalid(errors: errors))
    }

    /// A date (London midnight) or an ISO 8601 instant with its offset.
    static func instant(_ s: String) -> Date? {
        if s.utf8.count == 10, let d = CivilDate(iso: s) { return DataRecords.years.contains(d.year) ? London.instant(d) : nil }
        return DataRecords.timestamp(s)
    }
}
