import CallboardDomain
import Foundation

/// jsonb travels as text: serialised here, bound as `$n::jsonb`, read back as `col::text`.
enum JSONText {
    static func encode(_ value: JSONValue) -> String { value.serializedString }

    static func encode(_ value: [String: String]) -> String { JSONValue.object(value.mapValues(JSONValue.string)).serializedString }

    static func decode(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }
}

extension ChecklistItem {
    var json: JSONValue {
        var o: [String: JSONValue] = ["status": .string(status.rawValue)]
        if let value { o["value"] = value }
        if let reason { o["reason"] = .string(reason) }
        return .object(o)
    }

    init?(json: JSONValue) {
        guard let s = json["status"]?.stringValue, let status = ItemStatus(rawValue: s) else { return nil }
        self.init(status: status, value: json["value"].flatMap { $0 == .null ? nil : $0 }, reason: json["reason"]?.stringValue)
    }
}

extension Checklist {
    /// The stored form: {"contact": {"status": …, "value": …, "reason": …}, …}
    var storedJSON: String {
        JSONValue.object(Dictionary(uniqueKeysWithValues: items.map { ($0.key.rawValue, $0.value.json) })).serializedString
    }

    static func fromStored(_ text: String) throws -> Checklist {
        let raw = try JSONValue.parse(text).objectValue ?? [:]
        return Checklist(
            Dictionary(
                uniqueKeysWithValues: raw.compactMap { k, v in
                    guard let name = ItemName(rawValue: k), let item = ChecklistItem(json: v) else { return nil }
                    return (name, item)
                }))
    }
}
