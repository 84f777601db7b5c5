import Foundation

/// The type of a data set's field: what its values must be, in a record or a CSV column.
public enum FieldType: String, CaseIterable, Codable, Sendable {
    case number, string, boolean
}

/// One declared field of a data set.
public struct DataField: Sendable, Equatable, Hashable {
    public var name: String
    public var type: FieldType
    public init(_ name: String, _ type: FieldType = .number) {
        self.name = name
        self.type = type
    }
}

/// One record as stored: `_id` (nil: the store makes one), `_timestamp` (nil: stored, settles
/// nothing) and the other fields, whose keys are lower-case.
public struct DataRecord: Sendable, Equatable {
    public var id: String?
    public var timestamp: Date?
    public var values: [String: JSONValue]
    public init(id: String?, timestamp: Date?, values: [String: JSONValue]) {
        self.id = id
        self.timestamp = timestamp
        self.values = values
    }
}

/// A record as it goes to the store: its fields already serialised, so a large batch is held as
/// a few strings a record rather than as a tree of values.
public struct StoredRecord: Sendable, Equatable {
    public var id: String?
    public var timestamp: Date?
    /// The fields as a JSON object.
    public var data: String
    public init(id: String?, timestamp: Date?, data: String) {
        self.id = id
        self.timestamp = timestamp
        self.data = data
    }
}

extension DataRecord {
    public var stored: StoredRecord { StoredRecord(id: id, timestamp: timestamp, data: JSONValue.object(values).serializedString) }
}

/// One thing wrong with a record of a batch: its index (nil: the body as a whole) and field.
public struct RecordProblem: Sendable, Equatable {
    public var index: Int?
    public var field: String?
    public var message: String
    public init(index: Int?, field: String?, message: String) {
        self.index = index
        self.field = field
        self.message = message
    }

    /// A JSON pointer into the body: `/3/count`, `/3`, or `` for the body.
    public var pointer: String {
        guard let index else { return "" }
        return "/\(index)" + (field.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") } ?? "")
    }
}

/// Every problem of a refused batch.
public struct RecordsInvalid: Error, Sendable, Equatable {
    public var problems: [RecordProblem]
}

/// The Performance Platform's record rules (backdrop's): keys match `^[a-z_][a-z0-9_]*$` once
/// lower-cased; of the keys starting with `_` only `_id` and `_timestamp`; values are strings,
/// numbers or booleans. A data set that declares fields takes only those, each of its type; one
/// that declares none takes any valid key. Every problem is reported (up to `maxProblems`), and
/// a batch with any problem is refused whole.
public enum DataRecords {
    public static let maxProblems = 200
    public static let maxKeyLength = 100
    public static let maxIDLength = 200
    /// In bytes of UTF-8 (what PostgreSQL's index and `jsonb` see), not characters.
    public static let maxStringLength = 40_000
    /// Keys a record may have: more is no record of a data set (at most 50 fields, `_id`, `_timestamp`).
    public static let maxKeys = 100
    /// Records one write may carry.
    public static let maxRecords = 100_000
    /// `_timestamp` years taken: dates PostgreSQL and the calendar handle, with room either side.
    public static let years = 1900...2200

    /// A body is one record (an object) or an array of them.
    public static func validate(_ body: JSONValue, fields: [DataField]) -> Result<[DataRecord], RecordsInvalid> {
        // One set of rules: a body already parsed goes through `parse` too (its own bytes are valid JSON).
        guard let parsed = try? parse(body.serialized(), fields: fields) else { return .success([]) }
        return parsed.map { result in
            result.records.map { DataRecord(id: $0.id, timestamp: $0.timestamp, values: (try? JSONValue.parse($0.data))?.objectValue ?? [:]) }
        }
    }

    /// The records of a body, straight from its bytes, one record at a time: memory stays near the
    /// body's size whatever the batch. Malformed JSON throws; `single` says the body was one object.
    public static func parse(_ bytes: [UInt8], fields: [DataField]) throws(JSONValue.ParseError) -> Result<
        (records: [StoredRecord], single: Bool), RecordsInvalid
    > {
        let declared = Dictionary(fields.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        var problems: [RecordProblem] = []
        var records: [StoredRecord] = []
        var index = 0
        var notObject: JSONValue?
        // Records are flat: an array of objects of plain values.
        let isArray = try JSONValue.parseElements(bytes, maxDepth: 8) { item in
            defer { index += 1 }
            if case .object = item {} else if index == 0 { notObject = item }
            guard problems.count < maxProblems else { return }
            if index == maxRecords {
                problems.append(RecordProblem(index: index, field: nil, message: "Record \(index): a write takes at most \(maxRecords) records"))
                return
            }
            if let r = record(item, index: index, declared: declared, problems: &problems), problems.isEmpty { records.append(r.stored) }
        }
        if !isArray, let v = notObject {
            return .failure(
                RecordsInvalid(problems: [
                    RecordProblem(index: nil, field: nil, message: "The body must be a record (an object) or an array of records, not \(v.typeName)")
                ]))
        }
        return problems.isEmpty ? .success((records, !isArray)) : .failure(RecordsInvalid(problems: Array(problems.prefix(maxProblems))))
    }

    static func record(_ item: JSONValue, index: Int, declared: [String: FieldType], problems: inout [RecordProblem]) -> DataRecord? {
        guard case .object(let object) = item else {
            problems.append(RecordProblem(index: index, field: nil, message: "Record \(index) must be an object, not \(item.typeName)"))
            return nil
        }
        let before = problems.count
        guard object.count <= maxKeys else {
            problems.append(
                RecordProblem(index: index, field: nil, message: "Record \(index) has \(object.count) keys; a record has at most \(maxKeys)"))
            return nil
        }
        func problem(_ field: String, _ message: String) {
            problems.append(RecordProblem(index: index, field: field, message: "Record \(index): \(message)"))
        }
        var out = DataRecord(id: nil, timestamp: nil, values: [:])
        // Records have a handful of keys: a list is cheaper than hashing each.
        var seen: [(key: String, raw: String)] = []
        defer {
            // Reported in field order, whatever order the object's keys came in.
            if problems.count - before > 1 { problems[before...].sort { ($0.field ?? "") < ($1.field ?? "") } }
        }
        for (rawKey, value) in object {
            let key = rawKey.utf8.contains(where: { (65...90).contains($0) || $0 >= 0x80 }) ? rawKey.lowercased() : rawKey
            guard validKey(key) else {
                problem(
                    printable(rawKey),
                    "the key \"\(printable(rawKey))\" must be letters, digits and underscores, starting with a letter or underscore (at most \(maxKeyLength))"
                )
                continue
            }
            if let other = seen.first(where: { $0.key == key }) {
                let pair = [other.raw, rawKey].sorted()
                problem(key, "the keys \"\(pair[0])\" and \"\(pair[1])\" are the same field")
                continue
            }
            seen.append((key, rawKey))
            switch key {
            case "_id":
                guard case .string(let s) = value, !s.isEmpty, s.utf8.count <= maxIDLength, plainID(s) else {
                    problem(key, "_id must be a non-empty string without spaces (at most \(maxIDLength) bytes)")
                    continue
                }
                out.id = s
            case "_timestamp":
                guard case .string(let s) = value, let t = timestamp(s) else {
                    problem(key, "_timestamp must be an ISO 8601 time with a UTC offset, like 2026-11-23T00:00:00+00:00")
                    continue
                }
                out.timestamp = t
            default:
                if key.hasPrefix("_") {
                    problem(key, "\(key) is not allowed: the only keys starting with _ are _id and _timestamp")
                    continue
                }
                let type = declared[key]
                if !declared.isEmpty, type == nil {
                    problem(key, "\(key) is not a field of this data set; its fields are \(declared.keys.sorted().joined(separator: ", "))")
                    continue
                }
                switch value {
                case .string(let s):
                    if s.unicodeScalars.contains("\u{0}") {
                        problem(key, "\(key) must not contain the NUL character")
                    } else if s.utf8.count > maxStringLength {
                        problem(key, "\(key) is longer than \(maxStringLength) bytes")
                    }
                case .number, .bool: break
                case .null, .array, .object:
                    problem(key, "\(key) must be a string, a number or a boolean, not \(value.typeName)")
                    continue
                }
                if let type, !matches(value, type) {
                    problem(key, "\(key) must be \(type == .number ? "a number" : type == .string ? "a string" : "a boolean"), not \(value.typeName)")
                    continue
                }
                out.values[key] = value
            }
        }
        return problems.count == before ? out : nil
    }

    /// No whitespace or control characters (ASCII checked byte by byte; others by their properties).
    static func plainID(_ s: String) -> Bool {
        if s.utf8.allSatisfy({ $0 < 0x80 }) { return s.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F } }
        return !s.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F })
    }

    public static func validKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard let first = bytes.first, bytes.count <= maxKeyLength else { return false }
        func letter(_ b: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || b == UInt8(ascii: "_") }
        func digit(_ b: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
        return letter(first) && bytes.dropFirst().allSatisfy { letter($0) || digit($0) }
    }

    static func matches(_ value: JSONValue, _ type: FieldType) -> Bool {
        switch (value, type) {
        case (.number, .number), (.string, .string), (.bool, .boolean): return true
        default: return false
        }
    }

    /// An ISO 8601 instant that names its offset (`Z` or `±hh:mm`); one without is refused, since
    /// it would be guessed. Fractional seconds are allowed.
    public static func timestamp(_ s: String) -> Date? {
        let b = Array(s.utf8)
        guard (20...35).contains(b.count), b[10] == UInt8(ascii: "T"), let year = Int(String(s.prefix(4))), years.contains(year) else { return nil }
        if let fast = fastInstant(b) { return fast }
        guard CivilDate(iso: String(s.prefix(10))) != nil else { return nil }
        let last = b[b.count - 1]
        func sign(_ i: Int) -> Bool { b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") }
        let hasOffset =
            last == UInt8(ascii: "Z") || (sign(b.count - 6) && b[b.count - 3] == UInt8(ascii: ":"))
            || (sign(b.count - 5) && b.suffix(4).allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        guard hasOffset else { return nil }
        return Timestamp.parse(s)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM|±HHMM)` read directly (Foundation's parser is most of a
    /// batch's cost); nil for any other shape, which then goes to Foundation.
    static func fastInstant(_ b: [UInt8]) -> Date? {
        func digits(_ from: Int, _ n: Int) -> Int? {
            guard from + n <= b.count else { return nil }
            var v = 0
            for i in from..<from + n {
                guard (48...57).contains(b[i]) else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
            let y = digits(0, 4), let mo = digits(5, 2),
            let d = digits(8, 2), let h = digits(11, 2), let mi = digits(14, 2), let sec = digits(17, 2), h < 24, mi < 60, sec < 60,
            (1...12).contains(mo), d >= 1, d <= CivilDate.daysIn(month: mo, year: y)
        else { return nil }
        var i = 19
        var fraction = 0.0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, (48...57).contains(b[i]) {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        var offset = 0
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") {
            guard i + 1 == b.count else { return nil }
        } else {
            guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), let oh = digits(i + 1, 2), oh < 24 else { return nil }
            let om: Int?
            if i + 6 == b.count, b[i + 3] == UInt8(ascii: ":") {
                om = digits(i + 4, 2)
            } else if i + 5 == b.count {
                om = digits(i + 3, 2)
            } else {
                return nil
            }
            guard let om, om < 60 else { return nil }
            offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
        }
        let days = CivilDate(y, mo, d).daysSinceEpoch
        return Date(timeIntervalSince1970: Double(days * 86_400 + h * 3600 + mi * 60 + sec - offset) + fraction)
    }

    /// Keys are shown as sent, but never with control characters.
    public static func printable(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.prefix(60).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    }

    /// A batch as it is stored: within it the last record with an `_id` wins (as if each were
    /// written in turn); records with an `_id` come first, in `_id` order (so two writers of
    /// overlapping batches lock rows in the same order), then those without, as sent.
    public static func lastWins<R: IdentifiedRecord>(_ records: [R]) -> [R] {
        var order = Array(records.indices)
        order.sort { a, b in
            switch (records[a].id, records[b].id) {
            case (let x?, let y?): return x != y ? x < y : a < b
            case (.some, .none): return true
            case (.none, .some): return false
            case (.none, .none): return a < b
            }
        }
        var out: [R] = []
        out.reserveCapacity(records.count)
        for (k, i) in order.enumerated() {
            // Of a run of equal ids only the last (the latest sent) is kept.
            if let id = records[i].id, k + 1 < order.count, records[order[k + 1]].id == id { continue }
            out.append(records[i])
        }
        return out
    }

    /// The periods of `cadence` (London dates) the records' timestamps fall in, oldest first.
    public static func periods<R: IdentifiedRecord>(_ records: [R], cadence: Cadence) -> [Period] {
        Set(records.compactMap { $0.timestamp.map { Period.containing(London.date(of: $0), cadence: cadence) } })
            .sorted { $0.start < $1.start }
    }
}

/// What batching rules need of a record: its `_id` and `_timestamp`.
public protocol IdentifiedRecord {
    var id: String? { get }
    var timestamp: Date? { get }
}

extension DataRecord: IdentifiedRecord {}
extension StoredRecord: IdentifiedRecord {}
