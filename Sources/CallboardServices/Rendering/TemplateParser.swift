/// Parses the Mustache our templates use — variables (`{{x}}`, `{{{x}}}`, `{{&x}}`, `{{.}}`,
/// dotted names), sections, inverted sections, comments, unindented partials and the
/// `CONTENT_TYPE` pragma — over UTF-8 bytes. Its whitespace rules follow swift-mustache 2's parser
/// step by step (a tag alone on its line takes the line with it), so the output is the same byte
/// for byte (`TemplateEngineTests` renders every shipped template with both). Anything else
/// (delimiter changes, blocks, transforms, indented partials, `\r`) is refused when loading.
struct TemplateParser {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var offset: Int
        var description: String { "\(message) at byte \(offset)" }
    }

    private let bytes: [UInt8]
    private var pos = 0

    static func parse(_ text: String) throws -> [TemplateNode] {
        var parser = TemplateParser(bytes: Array(text.utf8))
        if let bad = parser.bytes.firstIndex(where: { $0 == UInt8(ascii: "\r") || $0 == 0x0B || $0 == 0x0C }) {
            throw Failure(message: "only \\n may end a line", offset: bad)
        }
        return TemplateNode.joiningText(try parser.parse(section: nil, newLine: true))
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private var atEnd: Bool { pos >= bytes.count }
    private var current: UInt8 { pos < bytes.count ? bytes[pos] : 0 }
    private static let newline = UInt8(ascii: "\n")
    private static let open = Array("{{".utf8)
    private static let close = Array("}}".utf8)

    private func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    private func fail(_ message: String) -> Failure { Failure(message: message, offset: pos) }

    private mutating func skip(while belongs: (UInt8) -> Bool) -> Range<Int> {
        let start = pos
        while pos < bytes.count, belongs(bytes[pos]) { pos += 1 }
        return start..<pos
    }

    private static func isBlank(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
    private static func isSpace(_ b: UInt8) -> Bool { isBlank(b) || b == newline }
    private static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "?"): true
        default: false
        }
    }

    private mutating func read(_ literal: [UInt8]) -> Bool {
        guard bytes.count - pos >= literal.count, bytes[pos..<(pos + literal.count)].elementsEqual(literal) else { return false }
        pos += literal.count
        return true
    }

    /// Text up to a newline (left unread) or past the next `{{`.
    private mutating func readText() -> Range<Int> {
        let start = pos
        while pos < bytes.count {
            if bytes[pos] == Self.newline { return start..<pos }
            if bytes[pos] == Self.open[0], read(Self.open) { return start..<(pos - 2) }
            pos += 1
        }
        return start..<pos
    }

    /// swift-mustache's rule: a tag stands alone when the line began before it (`newLine`) and only
    /// blanks follow it to the line's end, which is then consumed.
    private mutating func standalone(_ newLine: Bool) -> Bool {
        guard newLine else { return false }
        if atEnd { return true }
        var p = pos
        while p < bytes.count, Self.isBlank(bytes[p]) { p += 1 }
        guard p < bytes.count, bytes[p] == Self.newline else { return false }
        pos = p + 1
        return true
    }

    private mutating func name() throws -> String {
        _ = skip(while: Self.isSpace)
        let range = skip(while: Self.isNameByte)
        _ = skip(while: Self.isSpace)
        guard read(Self.close) else { throw fail("a tag's name must be letters, digits, . - _ ? and end in }}") }
        return text(range)
    }

    private mutating func parse(section: String?, newLine startsLine: Bool) throws -> [TemplateNode] {
        var nodes: [TemplateNode] = []
        var newLine = startsLine
        var blanks = pos..<pos
        while !atEnd {
            if newLine { blanks = skip(while: Self.isBlank) }
            let before = readText()
            if current == Self.newline, !atEnd {
                nodes.append(.text(text(blanks) + text(before) + "\n"))
                newLine = true
                pos += 1
                continue
            }
            if !before.isEmpty {
                nodes.append(.text(text(blanks) + text(before)))
                blanks = pos..<pos
                newLine = false
            }
            if atEnd { break }
            func flushBlanks() {
                if !blanks.isEmpty { nodes.append(.text(text(blanks))) }
                blanks = pos..<pos
            }
            var setNewLine = false
            let sigil = current
            switch sigil {
            case UInt8(ascii: "#"), UInt8(ascii: "^"):
                pos += 1
                let name = try name()
                if standalone(newLine) { setNewLine = true } else { flushBlanks() }
                let body = try parse(section: name, newLine: setNewLine)
                nodes.append(sigil == UInt8(ascii: "#") ? .section(TemplateNode.path(name), body) : .inverted(TemplateNode.path(name), body))
            case UInt8(ascii: "/"):
                pos += 1
                let name = try name()
                guard name == section else { throw fail("{{/\(name)}} closes no open section") }
                if !standalone(newLine) { flushBlanks() }
                return nodes
            case UInt8(ascii: "!"):
                while !read(Self.close) {
                    guard !atEnd else { throw fail("a comment must end in }}") }
                    pos += 1
                }
                setNewLine = standalone(newLine)
            case UInt8(ascii: "{"), UInt8(ascii: "&"):
                flushBlanks()
                pos += 1
                let name = try name()
                if sigil == UInt8(ascii: "{") {
                    guard current == UInt8(ascii: "}") else { throw fail("{{{ must end in }}}") }
                    pos += 1
                }
                nodes.append(.variable(TemplateNode.path(name), escaped: false))
            case UInt8(ascii: ">"):
                pos += 1
                let name = try name()
                if standalone(newLine) {
                    guard blanks.isEmpty else { throw fail("indented partials are not supported") }
                    setNewLine = true
                } else {
                    flushBlanks()
                }
                blanks = pos..<pos
                nodes.append(.partial(name))
            case UInt8(ascii: "%"):
                pos += 1
                _ = skip(while: Self.isSpace)
                let key = text(skip(while: Self.isNameByte))
                _ = skip(while: Self.isSpace)
                guard key == "CONTENT_TYPE", read([UInt8(ascii: ":")]) else { throw fail("the only pragma is CONTENT_TYPE") }
                let value = try name()
                guard let escaping = TemplateNode.Escaping(rawValue: value) else { throw fail("unknown content type \(value)") }
                nodes.append(.escaping(escaping))
                setNewLine = standalone(newLine)
            case UInt8(ascii: "="), UInt8(ascii: "<"), UInt8(ascii: "$"):
                throw fail("delimiter changes and blocks are not supported")
            default:
                flushBlanks()
                nodes.append(.variable(TemplateNode.path(try name()), escaped: true))
            }
            newLine = setNewLine
        }
        if let section { throw fail("{{#\(section)}} is never closed") }
        return nodes
    }
}
