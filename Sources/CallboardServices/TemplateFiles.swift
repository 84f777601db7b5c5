import Foundation
import Mustache

/// Loads a folder's `.mustache` files as templates named by file (without the extension). Each
/// template begins in `HTMLEscaping` (a template's own `{{% CONTENT_TYPE: TEXT}}` still switches
/// to plain text after it): swift-mustache's own HTML escaping walks the text Character by
/// Character through a dictionary, a seventh of the scheduler's time rendering 10,000 digests.
public enum TemplateFiles {
    public static func load(from dir: URL) throws -> [String: MustacheTemplate] {
        MustacheContentTypes.register(HTMLEscaping(), named: HTMLEscaping.name)
        var templates: [String: MustacheTemplate] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            // On a line of its own the pragma is standalone: it and its newline leave no output.
            templates[String(file.dropLast(".mustache".count))] = try MustacheTemplate(
                string: "{{% CONTENT_TYPE: \(HTMLEscaping.name)}}\n" + text)
        }
        return templates
    }
}

/// HTML escaping of the same five characters as swift-mustache's, over UTF-8 bytes; text with
/// none of them (most values) is returned as it is.
struct HTMLEscaping: MustacheContentType {
    static let name = "CALLBOARD_HTML"

    func escapeText(_ text: String) -> String {
        guard text.utf8.contains(where: { Self.entity($0) != nil }) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        for byte in text.utf8 {
            if let entity = Self.entity(byte) { out.append(contentsOf: entity.utf8) } else { out.append(byte) }
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
