import CallboardDomain
import Foundation

/// jsonb travels as text: encoded here, bound as `$n::jsonb`, read back as `col::text`.
enum JSONText {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

extension Checklist {
    /// The stored form: {"contact": {"status": …, "value": …, "reason": …}, …}
    var storedJSON: String {
        JSONText.encode(Dictionary(uniqueKeysWithValues: items.map { ($0.key.rawValue, $0.value) }))
    }

    static func fromStored(_ text: String) throws -> Checklist {
        let raw = try JSONText.decode([String: ChecklistItem].self, text)
        return Checklist(Dictionary(uniqueKeysWithValues: raw.compactMap { k, v in ItemName(rawValue: k).map { ($0, v) } }))
    }
}
