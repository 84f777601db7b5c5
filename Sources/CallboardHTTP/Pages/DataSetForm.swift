import CallboardDomain
import CallboardStorage
import Foundation

/// The staff form for a data set: what was typed (or stored), the JSON the API takes (so the API's
/// validation applies), and where each error shows. Uploaders and fields are numbered rows
/// (`uploader_2_email`, `field_1_type`); "add another" re-renders with one more row, so there is
/// no fixed number of rows and no JavaScript.
struct DataSetForm {
    var name = ""
    var cadence = ""
    var dueDays = "5"
    var dataGroup = ""
    var dataType = ""
    var isPrivate = false
    var uploaders: [(name: String, email: String)] = []
    var fields: [(name: String, type: String)] = []

    /// Bounds the rows a post can make us render (the API takes at most 50 fields).
    static let maxRows = 100

    init() {}

    init(_ r: DataSetRecord) {
        name = r.name
        cadence = r.schedule.cadence.rawValue
        dueDays = String(r.schedule.dueWorkingDaysAfterPeriod)
        dataGroup = r.writePath?.group ?? ""
        dataType = r.writePath?.type ?? ""
        isPrivate = r.isPrivate
        uploaders = r.uploaders.map { ($0.name, $0.email) }
        fields = r.fields.map { ($0.name, $0.type.rawValue) }
    }

    /// The posted form, every row kept as typed (blank ones too), in row-number order.
    init(form: [String: String]) {
        func text(_ key: String) -> String { StaffPages.text(form[key]) }
        name = text("name")
        cadence = text("cadence")
        dueDays = text("due_days")
        dataGroup = text("data_group")
        dataType = text("data_type")
        isPrivate = form["private"] != nil
        uploaders = Self.rows(form, "uploader").map { (text("uploader_\($0)_name"), text("uploader_\($0)_email")) }
        fields = Self.rows(form, "field").map { (text("field_\($0)_name"), text("field_\($0)_type")) }
    }

    /// The row numbers a form holds for `prefix` (`prefix_<n>_…`, n from 1 to `maxRows`), sorted.
    static func rows(_ form: [String: String], _ prefix: String) -> [Int] {
        Set(
            form.keys.compactMap { key -> Int? in
                let parts = key.split(separator: "_")
                guard parts.count == 3, parts[0] == prefix, let n = Int(parts[1]), (1...maxRows).contains(n) else { return nil }
                return n
            }
        ).sorted()
    }

    /// Without blank rows, so row n is the API's entry n-1 and an error about it lands on it.
    var normalised: DataSetForm {
        var f = self
        f.uploaders = uploaders.filter { !$0.name.isEmpty || !$0.email.isEmpty }
        f.fields = fields.filter { !$0.name.isEmpty }
        return f
    }

    /// The API's body (from the normalised form). Creating, an empty write path is left out;
    /// editing, it is removed (both null). Name and cadence always go, so an empty one is refused.
    func json(creating: Bool) -> JSONValue {
        let f = normalised
        var o: [String: JSONValue] = ["name": .string(f.name), "cadence": .string(f.cadence), "private": .bool(f.isPrivate)]
        o["due_working_days_after_period"] = Int(f.dueDays).map { .number(Double($0)) } ?? .string(f.dueDays)
        o["uploaders"] = .array(
            f.uploaders.map { u in
                var row: [String: JSONValue] = [:]
                if !u.name.isEmpty { row["name"] = .string(u.name) }
                if !u.email.isEmpty { row["email"] = .string(u.email) }
                return .object(row)
            })
        o["fields"] = .array(f.fields.map { .object(["name": .string($0.name), "type": .string($0.type)]) })
        if f.dataGroup.isEmpty && f.dataType.isEmpty {
            if !creating {
                o["data_group"] = .null
                o["data_type"] = .null
            }
        } else {
            // One without the other goes alone, and the API says both are needed.
            if !f.dataGroup.isEmpty { o["data_group"] = .string(f.dataGroup) }
            if !f.dataType.isEmpty { o["data_type"] = .string(f.dataType) }
        }
        return .object(o)
    }

    // MARK: - Errors

    /// The form field an API error pointer is about (`/uploaders/2/email` → `uploader_3_email`).
    static func fieldID(_ pointer: String) -> String {
        let parts = pointer.split(separator: "/").map(String.init)
        guard let head = parts.first else { return "name" }
        switch head {
        case "uploaders", "fields":
            let prefix = head == "uploaders" ? "uploader" : "field"
            let n = parts.count > 1 ? (Int(parts[1]) ?? 0) + 1 : 1
            let key = parts.count > 2 && (parts[2] == "email" || parts[2] == "type") ? parts[2] : "name"
            return "\(prefix)_\(n)_\(key)"
        case "due_working_days_after_period": return "due_days"
        case "cadence", "data_group", "data_type", "private": return head
        default: return "name"
        }
    }

    static func label(_ id: String) -> String {
        let parts = id.split(separator: "_")
        if parts.count == 3, let n = Int(parts[1]) {
            let what = parts[2] == "email" ? "email address" : String(parts[2])
            return "\(parts[0] == "uploader" ? "Uploader" : "Field") \(n) \(what)"
        }
        return [
            "cadence": "How often", "due_days": "Working days after each period", "data_group": "Data group", "data_type": "Data type",
            "private": "Private",
        ][id] ?? "Name"
    }

    /// For the error summary and beside the field: "Enter …" for a missing value, else the label and the rule.
    static func message(_ e: FieldError) -> (field: String, message: String) {
        let id = fieldID(e.pointer)
        let label = label(id)
        if e.message == "is required" || e.message == "must list at least one uploader" {
            if id == "cadence" { return (id, "Choose how often data arrives") }
            if id == "name" { return (id, "Enter a name for the data set") }
            let parts = label.split(separator: " ", maxSplits: 2)
            // "Uploader 2 email address" → "Enter uploader 2's email address".
            return (id, parts.count == 3 ? "Enter \(parts[0].lowercased()) \(parts[1])'s \(parts[2])" : "Enter \(label.lowercased())")
        }
        if e.message.hasPrefix("give ") { return (id, "Give the data group and the data type together, or neither") }
        // The API's own wording names its JSON shape, which means nothing on a form.
        return (id, "\(label) \(e.message.replacingOccurrences(of: ", or {\"name\", \"type\"}", with: ""))")
    }

    // MARK: - Rendering

    /// The template's context: values, the rows (at least one blank of each when there are none),
    /// and each field's error.
    func context(errors: [String: String]) -> [String: Any] {
        var c: [String: Any] = [
            "name": name, "due_days": dueDays, "data_group": dataGroup, "data_type": dataType, "private": isPrivate,
            "cadences": Cadence.allCases.map { ["value": $0.rawValue, "text": $0.rawValue.capitalizedFirst, "selected": $0.rawValue == cadence] },
        ]
        for id in ["name", "cadence", "due_days", "data_group", "data_type", "private"] { c.put("\(id)_error", errors[id]) }
        let uploaderRows = uploaders.isEmpty ? [("", "")] : uploaders
        c["uploaders"] = uploaderRows.enumerated().map { i, u -> [String: Any] in
            let n = i + 1
            let row: [String: Any?] = [
                "n": n, "name": u.name, "email": u.email, "name_error": errors["uploader_\(n)_name"],
                "email_error": errors["uploader_\(n)_email"],
            ]
            return row.compactMapValues { $0 }
        }
        let fieldRows = fields.isEmpty ? [("", FieldType.number.rawValue)] : fields
        c["fields"] = fieldRows.enumerated().map { i, f -> [String: Any] in
            let n = i + 1
            let row: [String: Any?] = [
                "n": n, "name": f.name, "name_error": errors["field_\(n)_name"], "type_error": errors["field_\(n)_type"],
                "types": FieldType.allCases.map { ["value": $0.rawValue, "text": $0.rawValue.capitalizedFirst, "selected": $0.rawValue == f.type] },
            ]
            return row.compactMapValues { $0 }
        }
        return c
    }
}
