import CallboardDomain
import Foundation

/// The fields of a request a caller may set, parsed from JSON with every error reported at once.
/// `nil` means "not given"; for PATCH, `assignee` may be explicitly cleared.
struct RequestInput {
    var kind: RequestKind?
    var department: String?
    var division: Division?
    var assigneeEmail: String??
    var notes: String?
    var optionalModules: [OptionalModule]?
    var items: [ItemName: ChecklistItem] = [:]

    static func parse(_ body: JSONValue, creating: Bool) throws(ServiceError) -> RequestInput {
        var errors = ErrorCollector()
        var input = RequestInput()
        guard var r = ObjectReader(body, at: "", errors: &errors) else { throw .validation(errors.errors) }
        // On PATCH a field that is present must have a value: blank is an error, not "unchanged".
        input.kind = r.choice("kind", RequestKind.self, required: creating || r.has("kind"))
        input.department = r.string("department", required: creating || r.has("department"), maxLength: 200, singleLine: true)
        input.division = r.choice("division", Division.self, required: r.has("division"))
        if r.has("assignee") {
            if r.raw("assignee") == .null {
                input.assigneeEmail = .some(nil)
            } else if let e = r.email("assignee", required: false) {
                input.assigneeEmail = .some(e)
            }
        }
        if r.has("notes") { input.notes = r.string("notes", required: false, maxLength: 5000) ?? "" }
        if let modules = r.array("optional_modules", required: false) {
            var out: [OptionalModule] = []
            for (i, m) in modules.enumerated() {
                if let s = m.stringValue, let mod = OptionalModule(rawValue: s) {
                    if !out.contains(mod) { out.append(mod) }
                } else {
                    r.errors.add(
                        pointer(r.path("optional_modules"), String(i)),
                        "must be one of: " + OptionalModule.allCases.map(\.rawValue).joined(separator: ", "))
                }
            }
            input.optionalModules = out
        }
        if let raw = r.raw("items"), raw != .null {
            if var ir = ObjectReader(raw, at: "/items", errors: &r.errors) {
                for key in ir.keys {
                    guard let name = ItemName(rawValue: key) else { continue }  // reported by finish()
                    if let item = ItemValidation.validate(name, ir.raw(key)!, at: ir.path(key), errors: &ir.errors) {
                        input.items[name] = item
                    }
                }
                for e in ir.finish() {
                    r.errors.add(
                        e.pointer,
                        e.message == "is not a recognised field"
                            ? "is not one of the eight items: " + ItemName.allCases.map(\.rawValue).joined(separator: ", ") : e.message)
                }
            }
        }
        errors.add(contentsOf: r.finish())
        try errors.throwIfAny()
        if !creating, input.isEmpty {
            throw .validation([FieldError(pointer: "", message: "give at least one field to change")])
        }
        return input
    }

    var isEmpty: Bool {
        kind == nil && department == nil && division == nil && assigneeEmail == nil && notes == nil && optionalModules == nil && items.isEmpty
    }
}

extension ErrorCollector {
    func throwIfAny() throws(ServiceError) {
        if !isEmpty { throw .validation(errors) }
    }
}
