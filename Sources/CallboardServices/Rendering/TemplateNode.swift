/// One parsed piece of a template. A name is a path: `[]` is `{{.}}`, the current value.
enum TemplateNode: Sendable, Equatable {
    case text(String)
    case variable([String], escaped: Bool)
    case section([String], [TemplateNode])
    case inverted([String], [TemplateNode])
    case partial(String)
    /// `{{% CONTENT_TYPE: …}}`: how the rest of the enclosing template escapes variables.
    case escaping(Escaping)

    enum Escaping: String, Sendable {
        /// Every template begins in `HTML`.
        case html = "HTML"
        case text = "TEXT"

        func apply(_ value: String) -> String { self == .text ? value : HTMLEscaping.escape(value) }
    }

    static func path(_ name: String) -> [String] { name == "." ? [] : name.split(separator: ".").map(String.init) }

    /// Neighbouring text pieces as one (the parser splits text at every line).
    static func joiningText(_ nodes: [TemplateNode]) -> [TemplateNode] {
        var out: [TemplateNode] = []
        var pending: [String] = []
        func flush() {
            if !pending.isEmpty { out.append(.text(pending.joined())) }
            pending = []
        }
        for node in nodes {
            switch node {
            case .text(let t): pending.append(t)
            case .section(let p, let body):
                flush()
                out.append(.section(p, joiningText(body)))
            case .inverted(let p, let body):
                flush()
                out.append(.inverted(p, joiningText(body)))
            default:
                flush()
                out.append(node)
            }
        }
        flush()
        return out
    }
}

/// HTML escaping of the five characters swift-mustache escapes, over UTF-8 bytes; text with none
/// of them (most values) is returned as it is.
enum HTMLEscaping {
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { entity($0) != nil }) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        for byte in text.utf8 {
            if let entity = entity(byte) { out.append(contentsOf: entity.utf8) } else { out.append(byte) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func entity(_ byte: UInt8) -> String? {
        switch byte {
        case UInt8(ascii: "<"): "&lt;"
        case UInt8(ascii: ">"): "&gt;"
        case UInt8(ascii: "&"): "&amp;"
        case UInt8(ascii: "\""): "&quot;"
        case UInt8(ascii: "'"): "&#39;"
        default: nil
        }
    }
}
