import CallboardDomain

/// The form for each of the eight items: its fields, how a submitted form becomes the item's JSON
/// (the same JSON the API takes, so the same validation applies), and where each error shows.
enum ItemForms {
    enum Kind {
        case text, email, tel, url, textarea, checkbox
        case select([(String, String)])
        /// One of these (value, label), as radios in a fieldset whose legend is the field's label.
        case radios([(String, String)])
    }

    struct Field {
        var id: String
        var label: String
        var hint: String? = nil
        var kind: Kind = .text
        var optional = false
    }

    /// Lists (goals, uploaders) show every stored row and a blank one after them, and never fewer
    /// than this many rows: no JavaScript adds more, and a row the form does not show would be lost
    /// when the form is saved.
    static let slots = 3

    /// A list of an item's value: its form rows are `<prefix>_<n>_<key>`, n from 1.
    struct RowList {
        var prefix: String
        var key: String
        var fields: [String]
    }

    static func list(_ item: ItemName) -> RowList? {
        switch item {
        case .completionRate: return RowList(prefix: "goal", key: "goals", fields: ["name", "start", "completion"])
        case .digitalTakeUp: return RowList(prefix: "uploader", key: "uploaders", fields: ["name", "email"])
        default: return nil
        }
    }

    /// The row number and key of a list's form field id (`uploader_4_email` → (4, "email")).
    static func rowField(_ id: String, _ item: ItemName) -> (row: Int, key: String)? {
        guard let list = list(item), id.hasPrefix(list.prefix + "_") else { return nil }
        let rest = id.dropFirst(list.prefix.count + 1)
        guard let underscore = rest.firstIndex(of: "_") else { return nil }
        let digits = rest[..<underscore]
        let key = String(rest[rest.index(after: underscore)...])
        guard let first = digits.first, first != "0", digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits),
            list.fields.contains(key)
        else { return nil }
        return (n, key)
    }

    /// The fields of row `n` of an item's list.
    static func rowFields(_ item: ItemName, _ n: Int) -> [Field] {
        switch item {
        case .completionRate:
            return [
                Field(id: "goal_\(n)_name", label: "Goal \(n): name", optional: true),
                Field(id: "goal_\(n)_start", label: "Goal \(n): first page", optional: true),
                Field(id: "goal_\(n)_completion", label: "Goal \(n): completion page", optional: true),
            ]
        case .digitalTakeUp:
            return [
                Field(id: "uploader_\(n)_name", label: "Uploader \(n): name", optional: n > 1),
                Field(id: "uploader_\(n)_email", label: "Uploader \(n): email address", kind: .email, optional: n > 1),
            ]
        default: return []
        }
    }

    /// How many list rows to show for `values` (normalised): every filled row and a blank one, at
    /// least `slots`, and as many as the form showed (`rows`, its hidden field) when "Add another" asked for one more.
    static func rowCount(_ item: ItemName, _ values: [String: String]) -> Int {
        guard list(item) != nil else { return 0 }
        let filled = values.compactMap { $0.value.isEmpty ? nil : rowField($0.key, item)?.row }.max() ?? 0
        let asked = min(Int(values["rows"] ?? "") ?? 0, maxRows)
        return max(slots, filled + 1, asked)
    }

    /// No form shows more rows than this (a list's rows are also limited by the body size).
    static let maxRows = 200

    /// The form's own fields of a submitted (or drafted) form, everything else dropped, with the
    /// list rows that hold anything renumbered from 1 in order (blank rows dropped), so that row n
    /// is the list's (n-1)th entry and an error about it lands on it.
    static func normalised(_ item: ItemName, _ form: [String: String]) -> [String: String] {
        var own = Set(fields(item, rows: 0).map(\.id))
        if list(item) != nil { own.insert("rows") }
        if item.mayBeUnavailable { own.formUnion(["availability", "reason"]) }
        var out: [String: String] = [:]
        var rows: [Int: [String: String]] = [:]
        for (key, value) in form {
            if own.contains(key) {
                out[key] = value
            } else if let (n, k) = rowField(key, item) {
                rows[n, default: [:]][k] = value
            }
        }
        if let list = list(item) {
            let filled = rows.keys.sorted().filter { n in rows[n]!.values.contains { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } }
            for (i, n) in filled.prefix(maxRows).enumerated() {
                for (k, v) in rows[n]! { out["\(list.prefix)_\(i + 1)_\(k)"] = v }
            }
        }
        return out
    }

    /// The item's fields, with `rows` rows of its list (goals, uploaders) if it has one.
    static func fields(_ item: ItemName, rows: Int = slots) -> [Field] {
        let listRows = (0..<rows).flatMap { rowFields(item, $0 + 1) }
        switch item {
        case .contact, .signOffContact:
            return [
                Field(id: "name", label: "Full name"), Field(id: "email", label: "Email address", kind: .email),
                Field(id: "phone", label: "Telephone number", hint: "For example, 020 7946 0000", kind: .tel),
            ]
        case .service:
            return [
                Field(id: "name", label: "Service name"), Field(id: "description", label: "What the service does", kind: .textarea),
                Field(id: "start_page_url", label: "Start page address", hint: "A full address starting with https://", kind: .url),
                Field(id: "govuk_start_page_url", label: "GOV.UK start page address (if different)", kind: .url, optional: true),
            ]
        case .costPerTransaction:
            return [
                Field(
                    id: "transactions_explorer_url", label: "Transactions Explorer address",
                    hint: "If the service is on the Transactions Explorer", kind: .url, optional: true),
                Field(
                    id: "not_on_explorer_note", label: "Where the cost figures are",
                    hint: "If the service is not on the Transactions Explorer", kind: .textarea, optional: true),
            ]
        case .userSatisfaction:
            return [
                Field(id: "done_page_url", label: "Done page address", hint: "Where users rate the service", kind: .url, optional: true),
                Field(id: "other_method", label: "How else you measure satisfaction", kind: .textarea, optional: true),
            ]
        case .completionRate:
            return [
                Field(
                    id: "analytics_provider", label: "Analytics provider",
                    kind: .select(AnalyticsProvider.allCases.map { ($0.rawValue, providerName($0)) })),
                Field(id: "read_access_granted", label: "We have given the Performance Platform read access", kind: .checkbox, optional: true),
            ] + listRows + [Field(id: "note", label: "Notes", hint: "Required for another provider", kind: .textarea, optional: true)]
        case .digitalTakeUp:
            return [Field(id: "spreadsheet_reference", label: "Spreadsheet name or reference")] + listRows + [
                Field(id: "prefers_api", label: "We would rather send the data through an API", kind: .checkbox, optional: true)
            ]
        case .serviceAvailability:
            return [Field(id: "health_check_url", label: "Health check address", kind: .url)]
        }
    }

    static func providerName(_ p: AnalyticsProvider) -> String {
        switch p {
        case .googleAnalytics: return "Google Analytics"
        case .webtrends: return "Webtrends"
        case .piwik: return "Piwik"
        case .other: return "Another provider"
        }
    }

    /// The item's JSON from the submitted form: "not available" with its reason, or the value with
    /// every row of its list the form held.
    static func json(_ item: ItemName, form submitted: [String: String]) -> JSONValue {
        let form = normalised(item, submitted)
        if item.mayBeUnavailable, form["availability"] == "not_available" {
            return .object(["status": .string("not_available"), "reason": .string(form["reason"] ?? "")])
        }
        func text(_ id: String) -> String? {
            let v = (form[id] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            return v.isEmpty ? nil : v
        }
        var value: [String: JSONValue] = [:]
        func rows(_ prefix: String, _ keys: [String]) -> [JSONValue] {
            (0..<rowCount(item, form)).compactMap { i in
                var o: [String: JSONValue] = [:]
                for k in keys { if let v = text("\(prefix)_\(i + 1)_\(k)") { o[k] = .string(v) } }
                return o.isEmpty ? nil : .object(o)
            }
        }
        switch item {
        case .completionRate:
            if let p = text("analytics_provider") { value["analytics_provider"] = .string(p) }
            value["read_access_granted"] = .bool(form["read_access_granted"] != nil)
            let goals = rows("goal", ["name", "start", "completion"])
            if !goals.isEmpty { value["goals"] = .array(goals) }
            if let n = text("note") { value["note"] = .string(n) }
        case .digitalTakeUp:
            if let s = text("spreadsheet_reference") { value["spreadsheet_reference"] = .string(s) }
            value["uploaders"] = .array(rows("uploader", ["name", "email"]))
            value["prefers_api"] = .bool(form["prefers_api"] != nil)
        default:
            for f in fields(item) { if let v = text(f.id) { value[f.id] = .string(v) } }
        }
        return .object(["status": .string("provided"), "value": .object(value)])
    }

    /// The form as it was stored, to show again.
    static func values(_ item: ItemName, _ stored: ChecklistItem) -> [String: String] {
        var out: [String: String] = [:]
        if stored.status == .notAvailable {
            out["availability"] = "not_available"
            out["reason"] = stored.reason ?? ""
        }
        guard let v = stored.value?.objectValue else { return out }
        for (k, x) in v {
            switch x {
            case .string(let s): out[k] = s
            case .bool(let b): if b { out[k] = "yes" }
            case .array(let rows):
                guard let list = list(item), list.key == k else { break }
                for (i, row) in rows.enumerated() {
                    for (rk, rv) in row.objectValue ?? [:] { out["\(list.prefix)_\(i + 1)_\(rk)"] = rv.stringValue }
                }
            default: break
            }
        }
        return out
    }

    /// The form field an API error pointer is about (`/items/<item>/value/goals/0/start` → `goal_1_start`).
    static func fieldID(_ pointer: String, item: ItemName) -> String {
        let base = "/items/\(item.rawValue)"
        if pointer == "\(base)/reason" || pointer == "\(base)/status" { return "reason" }
        let rest = pointer.hasPrefix("\(base)/value/") ? String(pointer.dropFirst("\(base)/value/".count)) : ""
        let parts = rest.split(separator: "/").map(String.init)
        let first = fields(item).first?.id ?? "reason"
        guard let head = parts.first else { return first }
        if head == "goals" || head == "uploaders" {
            let prefix = head == "goals" ? "goal" : "uploader"
            let n = parts.count > 1 ? (Int(parts[1]) ?? 0) + 1 : 1
            let key = parts.count > 2 ? parts[2] : (head == "goals" ? "start" : "name")
            return "\(prefix)_\(n)_\(key)"
        }
        return fields(item, rows: 0).contains { $0.id == head } || rowField(head, item) != nil ? head : first
    }

    static func label(of id: String, item: ItemName) -> String {
        if id == "reason" { return "Reason" }
        if let (n, _) = rowField(id, item) { return rowFields(item, n).first { $0.id == id }?.label ?? id }
        return fields(item, rows: 0).first { $0.id == id }?.label ?? id
    }

    /// A message for the error summary: "Enter …" for a missing value, else the label and the rule.
    static func message(_ e: FieldError, item: ItemName) -> String {
        let id = fieldID(e.pointer, item: item)
        let label = label(of: id, item: item)
        if e.message == "is required" { return id == "reason" ? "Enter why you cannot provide this" : "Enter \(label.lowercased())" }
        if e.message.hasPrefix("give ") { return "G" + e.message.dropFirst() }
        return "\(label) \(e.message)"
    }

    /// The fields of a form as the templates show them (`item_fields`), each with its value and
    /// error, the errors by field, and the error summary's entries.
    static func render(_ item: ItemName, values: [String: String], errors: [FieldError]) -> (
        fields: [[String: Any]], fieldErrors: [String: String], summary: [[String: String]]
    ) {
        var fieldErrors: [String: String] = [:]
        var summary: [[String: String]] = []
        for e in errors {
            let id = fieldID(e.pointer, item: item)
            let text = message(e, item: item)
            if fieldErrors[id] == nil { fieldErrors[id] = text }
            summary.append(["field": id, "message": text])
        }
        let rows = rowCount(item, values)
        var shown = fields(item, rows: rows).map { context($0, values: values, error: fieldErrors[$0.id]) }
        if let list = list(item), let last = shown.lastIndex(where: { ($0["id"] as? String)?.hasPrefix("\(list.prefix)_\(rows)_") == true }) {
            shown[last]["add_another"] = list.prefix == "goal" ? "Add another goal" : "Add another uploader"
            shown[last]["rows"] = rows
        }
        return (shown, fieldErrors, summary)
    }

    /// One field for the templates.
    static func context(_ f: Field, values: [String: String], error: String?) -> [String: Any] {
        var c: [String: Any] = ["id": f.id, "label": f.label, "optional": f.optional, "value": values[f.id] ?? ""]
        if let h = f.hint { c["hint"] = h }
        if let e = error { c["error"] = e }
        let described = [f.hint.map { _ in "\(f.id)-hint" }, error.map { _ in "\(f.id)-error" }].compactMap { $0 }
        if !described.isEmpty { c["described"] = described.joined(separator: " ") }
        switch f.kind {
        case .checkbox:
            c["checkbox"] = true
            c["value"] = values[f.id] != nil && values[f.id] != ""
        case .textarea: c["textarea"] = true
        case .select(let options):
            c["select"] = true
            c["options"] = options.map { ["value": $0.0, "text": $0.1, "selected": values[f.id] == $0.0] as [String: Any] }
        case .radios(let options):
            c["radios"] = true
            c["options"] = options.enumerated().map { i, o in
                ["value": o.0, "text": o.1, "checked": values[f.id] == o.0, "option_id": i == 0 ? f.id : "\(f.id)-\(i + 1)", "name": f.id]
                    as [String: Any]
            }
        case .text, .email, .tel, .url:
            c["input"] = true
            switch f.kind {
            case .email:
                c["type"] = "email"
                c["autocomplete"] = "email"
            case .tel:
                c["type"] = "tel"
                c["autocomplete"] = "tel"
            case .url: c["type"] = "url"
            default: c["type"] = "text"
            }
        }
        return c
    }
}
