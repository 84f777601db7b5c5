import CallboardDomain

/// The form for each of the eight items: its fields, how a submitted form becomes the item's JSON
/// (the same JSON the API takes, so the same validation applies), and where each error shows.
enum ItemForms {
    enum Kind {
        case text, email, tel, url, textarea, checkbox
        case select([(String, String)])
    }

    struct Field {
        var id: String
        var label: String
        var hint: String? = nil
        var kind: Kind = .text
        var optional = false
    }

    /// Lists (goals, uploaders) get this many rows of fields; no JavaScript adds more.
    static let slots = 3

    static func fields(_ item: ItemName) -> [Field] {
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
            var f = [
                Field(
                    id: "analytics_provider", label: "Analytics provider",
                    kind: .select(AnalyticsProvider.allCases.map { ($0.rawValue, providerName($0)) })),
                Field(id: "read_access_granted", label: "We have given the Performance Platform read access", kind: .checkbox, optional: true),
            ]
            for n in 1...slots {
                f += [
                    Field(id: "goal_\(n)_name", label: "Goal \(n): name", optional: true),
                    Field(id: "goal_\(n)_start", label: "Goal \(n): first page", optional: true),
                    Field(id: "goal_\(n)_completion", label: "Goal \(n): completion page", optional: true),
                ]
            }
            return f + [Field(id: "note", label: "Notes", hint: "Required for another provider", kind: .textarea, optional: true)]
        case .digitalTakeUp:
            var f = [Field(id: "spreadsheet_reference", label: "Spreadsheet name or reference")]
            for n in 1...slots {
                f += [
                    Field(id: "uploader_\(n)_name", label: "Uploader \(n): name", optional: n > 1),
                    Field(id: "uploader_\(n)_email", label: "Uploader \(n): email address", kind: .email, optional: n > 1),
                ]
            }
            return f + [Field(id: "prefers_api", label: "We would rather send the data through an API", kind: .checkbox, optional: true)]
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

    /// The item's JSON from the submitted form: "not available" with its reason, or the value.
    static func json(_ item: ItemName, form: [String: String]) -> JSONValue {
        if item.mayBeUnavailable, form["availability"] == "not_available" {
            return .object(["status": .string("not_available"), "reason": .string(form["reason"] ?? "")])
        }
        func text(_ id: String) -> String? {
            let v = (form[id] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            return v.isEmpty ? nil : v
        }
        var value: [String: JSONValue] = [:]
        func rows(_ prefix: String, _ keys: [String]) -> [JSONValue] {
            (1...slots).compactMap { n in
                var o: [String: JSONValue] = [:]
                for k in keys { if let v = text("\(prefix)_\(n)_\(k)") { o[k] = .string(v) } }
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
            case .array(let list):
                let prefix = k == "goals" ? "goal" : "uploader"
                for (i, row) in list.prefix(slots).enumerated() {
                    for (rk, rv) in row.objectValue ?? [:] { out["\(prefix)_\(i + 1)_\(rk)"] = rv.stringValue }
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
        return fields(item).contains { $0.id == head } ? head : first
    }

    static func label(of id: String, item: ItemName) -> String {
        if id == "reason" { return "Reason" }
        return fields(item).first { $0.id == id }?.label ?? id
    }

    /// A message for the error summary: "Enter …" for a missing value, else the label and the rule.
    static func message(_ e: FieldError, item: ItemName) -> String {
        let id = fieldID(e.pointer, item: item)
        let label = label(of: id, item: item)
        if e.message == "is required" { return id == "reason" ? "Enter why you cannot provide this" : "Enter \(label.lowercased())" }
        if e.message.hasPrefix("give ") { return "G" + e.message.dropFirst() }
        return "\(label) \(e.message)"
    }
}
