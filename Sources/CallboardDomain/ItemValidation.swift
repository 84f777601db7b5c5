/// Validates the input for one checklist item: `{"status": "provided", "value": {...}}`,
/// `{"status": "not_available", "reason": "..."}` or `{"status": "missing"}`.
/// Every problem is reported, each at its JSON pointer. Names, references and page paths are single
/// lines; descriptions, notes and reasons may span lines (neither holds other control characters).
public enum ItemValidation {
    public static func validate(_ name: ItemName, _ input: JSONValue, at base: String, errors: inout ErrorCollector) -> ChecklistItem? {
        guard var reader = ObjectReader(input, at: base, errors: &errors) else { return nil }
        let status = reader.choice("status", ItemStatus.self, required: true)
        var result: ChecklistItem?
        switch status {
        case .provided:
            if let raw = reader.raw("value") {
                result = validateValue(name, raw, at: reader.path("value"), errors: &reader.errors).map {
                    ChecklistItem(status: .provided, value: $0)
                }
            } else {
                reader.errors.add(reader.path("value"), "is required when status is provided")
            }
        case .notAvailable:
            if !name.mayBeUnavailable {
                reader.errors.add(reader.path("status"), "\(name.title) cannot be declared not available")
            } else if let reason = reader.string("reason", required: true, maxLength: 1000) {
                result = ChecklistItem(status: .notAvailable, reason: reason)
            }
        case .missing:
            result = .missing
        case nil:
            break
        }
        errors.add(contentsOf: reader.finish())
        return errors.isEmpty ? result : nil
    }

    /// Validates and normalises the value object of a provided item.
    static func validateValue(_ name: ItemName, _ value: JSONValue, at base: String, errors: inout ErrorCollector) -> JSONValue? {
        guard var r = ObjectReader(value, at: base, errors: &errors) else { return nil }
        var out: [String: JSONValue] = [:]
        func put(_ key: String, _ v: String?) { if let v { out[key] = .string(v) } }
        func put(_ key: String, _ v: Bool?) { if let v { out[key] = .bool(v) } }

        switch name {
        case .contact, .signOffContact:
            put("name", r.string("name", required: true, singleLine: true))
            put("email", r.email("email", required: true))
            put("phone", r.phone("phone", required: true))
        case .service:
            put("name", r.string("name", required: true, maxLength: 120, singleLine: true))
            put("description", r.string("description", required: true, maxLength: 2000))
            put("start_page_url", r.httpsURL("start_page_url", required: true))
            put("govuk_start_page_url", r.httpsURL("govuk_start_page_url", required: false))
        case .costPerTransaction:
            // Either on the Transactions Explorer (URL) or not on it (a note saying where the figures are).
            let before = r.errors.errors.count
            let url = r.httpsURL("transactions_explorer_url", required: false)
            let note = r.string("not_on_explorer_note", required: false, maxLength: 1000)
            if url == nil, note == nil, r.errors.errors.count == before {
                r.errors.add(base, "give transactions_explorer_url, or not_on_explorer_note if the service is not on the Explorer")
            } else if url != nil, note != nil {
                r.errors.add(base, "give transactions_explorer_url or not_on_explorer_note, not both")
            }
            put("transactions_explorer_url", url)
            put("not_on_explorer_note", note)
        case .userSatisfaction:
            let before = r.errors.errors.count
            let url = r.httpsURL("done_page_url", required: false)
            let method = r.string("other_method", required: false, maxLength: 1000)
            if url == nil, method == nil, r.errors.errors.count == before {
                r.errors.add(base, "give done_page_url, or other_method describing how satisfaction is captured")
            } else if url != nil, method != nil {
                r.errors.add(base, "give done_page_url or other_method, not both")
            }
            put("done_page_url", url)
            put("other_method", method)
        case .completionRate:
            let provider = r.choice("analytics_provider", AnalyticsProvider.self, required: true)
            out["analytics_provider"] = provider.map { .string($0.rawValue) }
            let isGA = provider == .googleAnalytics
            put("read_access_granted", r.bool("read_access_granted", required: isGA))
            if let goals = r.array("goals", required: isGA) {
                if isGA, goals.isEmpty { r.errors.add(r.path("goals"), "must list at least one goal") }
                var validGoals: [JSONValue] = []
                for (i, goal) in goals.enumerated() {
                    let at = pointer(r.path("goals"), String(i))
                    guard var g = ObjectReader(goal, at: at, errors: &r.errors) else { continue }
                    var go: [String: JSONValue] = [:]
                    if let n = g.string("name", required: false, singleLine: true) { go["name"] = .string(n) }
                    if let s = g.string("start", required: true, maxLength: 500, singleLine: true) { go["start"] = .string(s) }
                    if let c = g.string("completion", required: true, maxLength: 500, singleLine: true) { go["completion"] = .string(c) }
                    r.errors.add(contentsOf: g.finish())
                    validGoals.append(.object(go))
                }
                out["goals"] = .array(validGoals)
            }
            if let note = r.string("note", required: provider == .other, maxLength: 1000) { out["note"] = .string(note) }
        case .digitalTakeUp:
            put("spreadsheet_reference", r.string("spreadsheet_reference", required: true, maxLength: 500, singleLine: true))
            if let uploaders = r.array("uploaders", required: true) {
                if uploaders.isEmpty { r.errors.add(r.path("uploaders"), "must list at least one uploader") }
                var valid: [JSONValue] = []
                for (i, u) in uploaders.enumerated() {
                    let at = pointer(r.path("uploaders"), String(i))
                    guard var ur = ObjectReader(u, at: at, errors: &r.errors) else { continue }
                    var uo: [String: JSONValue] = [:]
                    if let n = ur.string("name", required: true, singleLine: true) { uo["name"] = .string(n) }
                    if let e = ur.email("email", required: true) { uo["email"] = .string(e) }
                    r.errors.add(contentsOf: ur.finish())
                    valid.append(.object(uo))
                }
                out["uploaders"] = .array(valid)
            }
            put("prefers_api", r.bool("prefers_api", required: false) ?? false)
        case .serviceAvailability:
            put("health_check_url", r.httpsURL("health_check_url", required: true))
        }
        errors.add(contentsOf: r.finish())
        return .object(out)
    }
}
