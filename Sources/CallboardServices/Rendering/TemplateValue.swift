import Foundation

/// What a template tag can look up: typed, so rendering needs no dynamic casts. Contexts are
/// still built as `[String: Any]` by callers and converted once, before the first tag is looked up.
public indirect enum TemplateValue: Sendable, Equatable {
    case text(String)
    case flag(Bool)
    case list([TemplateValue])
    case object([String: TemplateValue])

    /// `value` as a template value: strings, booleans, arrays, dictionaries and structs (by their
    /// stored properties) as themselves, other values as their description. `nil` is absent, so an
    /// optional left out of a context and one stored as `nil` mean the same.
    public init?(_ value: Any) {
        switch value {
        case let s as String: self = .text(s)
        case let b as Bool: self = .flag(b)
        case let d as [String: Any]: self = .object(d.compactMapValues(TemplateValue.init))
        case let a as [Any]: self = .list(a.compactMap(TemplateValue.init))
        case let v as TemplateValue: self = v
        case is NSNull: return nil
        default:
            let mirror = Mirror(reflecting: value)
            switch mirror.displayStyle {
            case .optional:
                guard let wrapped = mirror.children.first?.value else { return nil }
                self.init(wrapped)
            case .struct, .class:
                var fields: [String: TemplateValue] = [:]
                for child in mirror.children {
                    if let label = child.label, let v = TemplateValue(child.value) { fields[label] = v }
                }
                // A value with no stored properties to show (a UUID, a Date) is its description.
                self = fields.isEmpty ? .text(String(describing: value)) : .object(fields)
            default: self = .text(String(describing: value))
            }
        }
    }

    /// A context from a dictionary (values that convert to nothing are left out).
    public static func context(_ dictionary: [String: Any]) -> TemplateValue {
        .object(dictionary.compactMapValues(TemplateValue.init))
    }

    /// The text a `{{name}}` tag writes for this value (before escaping).
    var interpolated: String {
        switch self {
        case .text(let s): s
        case .flag(let b): b ? "true" : "false"
        case .list(let items): "[" + items.map(\.interpolated).joined(separator: ", ") + "]"
        case .object: ""
        }
    }

    /// The value named `key` when this is an object.
    subscript(key: String) -> TemplateValue? {
        if case .object(let fields) = self { fields[key] } else { nil }
    }
}
