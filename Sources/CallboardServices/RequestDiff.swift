import CallboardDomain
import CallboardStorage

/// Field-by-field before/after of a request, recorded on `updated` events.
enum RequestDiff {
    static func describe(_ r: RequestRecord) -> JSONValue {
        .object(fields(r))
    }

    static func between(_ a: RequestRecord, _ b: RequestRecord) -> [String: JSONValue] {
        let fa = fields(a)
        let fb = fields(b)
        var out: [String: JSONValue] = [:]
        for key in Set(fa.keys).union(fb.keys) where fa[key] != fb[key] {
            out[key] = .object(["before": fa[key] ?? .null, "after": fb[key] ?? .null])
        }
        return out
    }

    private static func fields(_ r: RequestRecord) -> [String: JSONValue] {
        var f: [String: JSONValue] = [
            "kind": .string(r.kind.rawValue),
            "department": .string(r.department),
            "division": .string(r.division),
            "assignee": r.assigneeEmail.map(JSONValue.string) ?? .null,
            "notes": .string(r.notes),
            "optional_modules": .array(r.optionalModules.map { .string($0.rawValue) }),
        ]
        for name in ItemName.allCases {
            let item = r.checklist[name]
            var o: [String: JSONValue] = ["status": .string(item.status.rawValue)]
            if let v = item.value { o["value"] = v }
            if let reason = item.reason { o["reason"] = .string(reason) }
            f["items/" + name.rawValue] = .object(o)
        }
        return f
    }
}
