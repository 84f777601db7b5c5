import Foundation

/// One thing wrong with an uploaded file, at a line of it (1 is the header row; 0 the file as a whole).
public struct CSVProblem: Error, Sendable, Equatable {
    public var line: Int
    public var message: String
    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}

/// Every problem of a refused file.
public struct CSVInvalid: Error, Sendable, Equatable {
    public var problems: [CSVProblem]
}

/// A spreadsheet upload for one period of a data set (DESIGN §4): RFC 4180 CSV in UTF-8 whose
/// header names `_timestamp` and every field of the data set; each row's `_timestamp` a date in the
/// period, each field a value of its type (a finite number, any text, or true/false); an optional
/// `_id` column names each row's record. Columns the data set does not declare are not stored.
/// Every problem is reported, each with its line; a file with any problem is refused whole.
public enum CSVUpload {
    public static let timestampColumn = "_timestamp"
    public static let idColumn = "_id"

    /// Past this many problems the check stops: the uploader has enough to fix.
    public static let maxProblems = 200

    /// The rows as records (the write API's store), or every problem found (up to `maxProblems`).
    public static func validate(_ bytes: [UInt8], fields: [DataField], period: Period) -> Result<[DataRecord], CSVInvalid> {
        if let nul = bytes.firstIndex(of: 0) {
            let line = 1 + bytes[..<nul].filter { $0 == 10 }.count
            return .failure(
                CSVInvalid(problems: [CSVProblem(line: line, message: "Line \(line) contains a NUL character: save the file as CSV (UTF-8)")]))
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(CSVInvalid(problems: [CSVProblem(line: 0, message: "The file must be a CSV file saved as UTF-8")]))
        }
        let records: [(line: Int, values: [String])]
        switch parse(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text) {
        case .success(let r): records = r
        case .failure(let p): return .failure(CSVInvalid(problems: [p]))
        }
        guard let header = records.first else { return .failure(CSVInvalid(problems: [CSVProblem(line: 0, message: "The file is empty")])) }
        let names = header.values.map { $0.trimmingCharacters(in: .whitespaces) }
        var problems: [CSVProblem] = []
        let required = [timestampColumn] + fields.map(\.name)
        let missing = required.filter { !names.contains($0) }
        if !missing.isEmpty {
            problems.append(
                CSVProblem(
                    line: 1,
                    message: "The header row must name the columns \(required.joined(separator: ", ")); missing: \(missing.joined(separator: ", "))"))
        }
        var seen: [String: Int] = [:]
        for n in names { seen[n, default: 0] += 1 }
        let duplicates = Set(seen.filter { $0.value > 1 }.keys)
        if !duplicates.isEmpty {
            problems.append(CSVProblem(line: 1, message: "The header row names a column twice: \(duplicates.sorted().joined(separator: ", "))"))
        }
        guard problems.isEmpty else { return .failure(CSVInvalid(problems: problems)) }
        let rows = records.dropFirst()
        guard !rows.isEmpty else { return .failure(CSVInvalid(problems: [CSVProblem(line: 2, message: "The file has a header row but no data")])) }
        let ts = names.firstIndex(of: timestampColumn)!
        let idIndex = names.firstIndex(of: idColumn)
        let columns = fields.map { ($0, names.firstIndex(of: $0.name)!) }
        var out: [DataRecord] = []
        out.reserveCapacity(rows.count)
        for row in rows where problems.count < maxProblems {
            let before = problems.count
            var record = DataRecord(id: nil, timestamp: nil, values: [:])
            guard row.values.count == names.count else {
                problems.append(
                    CSVProblem(line: row.line, message: "Line \(row.line) has \(row.values.count) values; the header row has \(names.count)"))
                continue
            }
            let stamp = row.values[ts].trimmingCharacters(in: .whitespaces)
            if let idIndex {
                let id = row.values[idIndex].trimmingCharacters(in: .whitespaces)
                if id.isEmpty || id.utf8.count > DataRecords.maxIDLength
                    || id.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 })
                {
                    problems.append(
                        CSVProblem(
                            line: row.line,
                            message: "Line \(row.line): _id must be a value without spaces (at most \(DataRecords.maxIDLength) characters)"))
                } else {
                    record.id = id
                }
            }
            if let (day, instant) = moment(stamp) {
                record.timestamp = instant
                if day < period.start || day > period.end {
                    problems.append(
                        CSVProblem(
                            line: row.line, message: "Line \(row.line): _timestamp \(stamp) is outside the period \(period.start) to \(period.end)"))
                }
            } else {
                problems.append(
                    CSVProblem(
                        line: row.line,
                        message:
                            "Line \(row.line): _timestamp \"\(stamp)\" must be a date like \(period.start) or an instant like \(period.start)T00:00:00Z"
                    ))
            }
            for (field, i) in columns {
                let name = field.name
                let v = row.values[i].trimmingCharacters(in: .whitespaces)
                switch field.type {
                case .string:
                    if v.utf8.count > DataRecords.maxStringLength {
                        problems.append(
                            CSVProblem(line: row.line, message: "Line \(row.line): \(name) is longer than \(DataRecords.maxStringLength) bytes"))
                    } else {
                        record.values[name] = .string(v)
                    }
                case .boolean:
                    switch v.lowercased() {
                    case "true": record.values[name] = .bool(true)
                    case "false": record.values[name] = .bool(false)
                    case "": problems.append(CSVProblem(line: row.line, message: "Line \(row.line): \(name) is empty"))
                    default: problems.append(CSVProblem(line: row.line, message: "Line \(row.line): \(name) \"\(v)\" must be true or false"))
                    }
                case .number:
                    if v.isEmpty {
                        problems.append(CSVProblem(line: row.line, message: "Line \(row.line): \(name) is empty"))
                    } else if let d = Double(v), v.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }) {
                        if !d.isFinite {
                            problems.append(
                                CSVProblem(line: row.line, message: "Line \(row.line): \(name) \"\(v)\" is too large: it must be a finite number"))
                        } else {
                            record.values[name] = .number(d)
                        }
                    } else {
                        problems.append(CSVProblem(line: row.line, message: "Line \(row.line): \(name) \"\(v)\" must be a number"))
                    }
                }
            }
            if problems.count == before { out.append(record) }
        }
        return problems.isEmpty ? .success(out) : .failure(CSVInvalid(problems: problems))
    }

    /// The London date of a `_timestamp`: a date (2026-11-02) or an RFC 3339 instant.
    static func date(_ s: String) -> CivilDate? { moment(s)?.day }

    /// A `_timestamp`'s London date and instant: a date is its London midnight.
    static func moment(_ s: String) -> (day: CivilDate, instant: Date)? {
        if s.count == 10, let d = CivilDate(iso: s) { return (d, London.instant(d)) }
        // Only something shaped like an instant is handed to the (costly) full parser.
        guard (20...35).contains(s.count), s.count > 10, s[s.index(s.startIndex, offsetBy: 10)] == "T", CivilDate(iso: String(s.prefix(10))) != nil
        else { return nil }
        return Timestamp.parse(s).map { (London.date(of: $0), $0) }
    }

    /// RFC 4180 records with the line each starts on; quoted values may hold commas, quotes ("")
    /// and line breaks. Blank lines are skipped.
    static func parse(_ text: String) -> Result<[(line: Int, values: [String])], CSVProblem> {
        var records: [(line: Int, values: [String])] = []
        var values: [String] = []
        var field = ""
        var quoted = false
        var afterQuote = false
        var line = 1
        var recordLine = 1
        var chars = Array(text.unicodeScalars)[...]
        func endRecord() {
            values.append(field)
            if !(values.count == 1 && values[0].isEmpty) { records.append((recordLine, values)) }
            values = []
            field = ""
        }
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" {
                        chars.removeFirst()
                        field.unicodeScalars.append("\"")
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case ",":
                values.append(field)
                field = ""
                afterQuote = false
            case "\r":
                if chars.first == "\n" { continue }
                fallthrough
            case "\n":
                endRecord()
                afterQuote = false
                line += 1
                recordLine = line
            case "\"":
                guard field.isEmpty, !afterQuote else {
                    return .failure(CSVProblem(line: line, message: "Line \(line) has a quote inside an unquoted value"))
                }
                quoted = true
            default:
                if afterQuote {
                    return .failure(CSVProblem(line: line, message: "Line \(line) has text after a closing quote"))
                }
                field.unicodeScalars.append(c)
            }
        }
        if quoted { return .failure(CSVProblem(line: recordLine, message: "Line \(recordLine) opens a quote that is never closed")) }
        if !field.isEmpty || !values.isEmpty { endRecord() }
        return .success(records)
    }
}
