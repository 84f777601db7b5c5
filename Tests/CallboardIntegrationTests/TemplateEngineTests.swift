import Foundation
import Mustache
import Testing

@testable import CallboardServices

/// Our template engine against swift-mustache, the engine it replaced: every shipped template
/// (emails and pages), rendered over contexts made from the names it uses, gives the same bytes.
struct TemplateEngineTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")
    static let folders = [
        sources.appendingPathComponent("CallboardServices/Templates"), sources.appendingPathComponent("CallboardHTTP/Resources/pages"),
    ]

    /// The names a template's tags use: those opening sections, and the rest.
    static func names(in text: String) -> (sections: Set<String>, variables: Set<String>, dotSections: Set<String>) {
        var sections = Set<String>()
        var variables = Set<String>()
        let tag = try! Regex(#"\{\{([#^/{&>%]?)\s*([A-Za-z0-9_.?-]+)\s*\}?\}\}"#)
        for m in text.matches(of: tag) {
            let sigil = String(m.output[1].substring ?? "")
            let name = String(m.output[2].substring ?? "")
            switch sigil {
            case "#", "^": sections.insert(name)
            case "", "{", "&": if name != "." { variables.insert(name) }
            default: break
            }
        }
        // Sections whose body shows `{{.}}` hold plain values (lines of text).
        var dotSections = Set<String>()
        for name in sections {
            let body = try! Regex("\\{\\{#\(NSRegularExpression.escapedPattern(for: name))\\}\\}(.*?)\\{\\{/").dotMatchesNewlines()
            if text.matches(of: body).contains(where: { ($0.output[1].substring ?? "").contains("{{.}}") }) { dotSections.insert(name) }
        }
        // A name shown as a variable is text even where it also opens a section (`{{#x}}{{x}}{{/x}}`).
        return (sections.subtracting(variables), variables, dotSections)
    }

    /// Five contexts: nothing, every section false or empty, true, a list of texts, a list of objects.
    static func contexts(sections: Set<String>, variables: Set<String>, dotSections: Set<String>) -> [[String: Any]] {
        var values: [String: Any] = [:]
        for v in variables { values[v] = "<\(v)> & \"'\(v)'\"" }
        func with(_ section: (String) -> Any) -> [String: Any] {
            var c = values
            for s in sections { c[s] = section(s) }
            return c
        }
        var inner: [String: Any] = [:]
        for v in variables { inner[v] = "inner \(v) <b>" }
        return [
            [:],
            with { $0.hasPrefix("has_") || $0 == "single" ? false as Any : [String]() as Any },
            with { dotSections.contains($0) ? ["only <\($0)>"] as Any : true as Any },
            with { ["one <\($0)>", "two"] },
            with { dotSections.contains($0) ? ["line <\($0)>"] as Any : [inner, inner.merging(["extra": 1]) { a, _ in a }] as Any },
        ]
    }

    @Test(arguments: folders)
    func everyTemplateRendersAsSwiftMustacheDid(folder: URL) throws {
        let ours = try TemplateLibrary(directory: folder)
        var texts: [String: String] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".mustache") {
            texts[String(file.dropLast(".mustache".count))] = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        }
        #expect(ours.names == Set(texts.keys))
        #expect(texts.count > 10)
        let reference = MustacheLibrary(templates: try texts.mapValues { try MustacheTemplate(string: $0) })
        var compared = 0
        for (name, text) in texts.sorted(by: { $0.key < $1.key }) {
            // A partial's names count too: they are looked up in the including template's context.
            var all = text
            for (other, otherText) in texts where text.contains("{{> \(other)}}") || text.contains("{{>\(other)}}") { all += otherText }
            let n = Self.names(in: all)
            for context in Self.contexts(sections: n.sections, variables: n.variables, dotSections: n.dotSections) {
                let expected = reference.render(context, withTemplate: name)
                let got = ours.render(context, withTemplate: name)
                #expect(got == expected, "\(name) with \(context.keys.sorted()): \(Self.firstDifference(got ?? "", expected ?? ""))")
                compared += 1
            }
        }
        #expect(compared == texts.count * 5)
    }

    /// Where two renderings part, with a little of each.
    static func firstDifference(_ a: String, _ b: String) -> String {
        let common = zip(a.utf8, b.utf8).prefix { $0 == $1 }.count
        func around(_ s: String) -> String { String(decoding: s.utf8.dropFirst(max(0, common - 40)).prefix(100), as: UTF8.self) }
        return "at byte \(common): ours …\(around(a))… swift-mustache …\(around(b))…"
    }

    @Test func standaloneTagsTakeTheirLineAndInlineOnesDoNot() throws {
        let nodes = try TemplateParser.parse("a\n  {{#s}}  \n  x {{v}}\n{{/s}}\n{{#s}}y{{/s}} z\n")
        #expect(
            nodes == [
                .text("a\n"), .section(["s"], [.text("  x "), .variable(["v"], escaped: true), .text("\n")]), .section(["s"], [.text("y")]),
                .text(" z\n"),
            ])
    }

    @Test func whatOurTemplatesDoNotUseIsRefused() {
        for text in [
            "{{=<% %>=}}", "{{<parent}}{{/parent}}", "{{#a}}", "{{/a}}", "{{x(y)}}", "a\r\nb", "  {{> p}}\n", "{{% CONTENT_TYPE: XML}}",
            "{{! never closed",
        ] {
            #expect(throws: TemplateParser.Failure.self, "\(text)") { try TemplateParser.parse(text) }
        }
    }

    @Test func aPartialEscapesHTMLWhateverItsCallerSwitchedTo() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = ["a": "{{% CONTENT_TYPE: TEXT}}{{v}} {{> b}} {{v}}", "b": "{{v}}"]
        for (name, text) in files { try text.write(to: dir.appendingPathComponent("\(name).mustache"), atomically: true, encoding: .utf8) }
        let reference = MustacheLibrary(templates: try files.mapValues { try MustacheTemplate(string: $0) })
        let got = try TemplateLibrary(directory: dir).render(["v": "<i>"], withTemplate: "a")
        #expect(got == "<i> &lt;i&gt; <i>")
        #expect(got == reference.render(["v": "<i>"], withTemplate: "a"))
    }

    @Test func valuesConvertOnceAndNilIsAbsent() {
        struct Row {
            var name: String
            var done: Bool
        }
        let none: String? = nil
        let id = UUID()
        let value = TemplateValue.context([
            "s": "x", "n": 3, "b": true, "o": none as Any, "l": ["a"], "r": Row(name: "n", done: false), "null": NSNull(), "id": id,
        ])
        #expect(
            value
                == .object([
                    "s": .text("x"), "n": .text("3"), "b": .flag(true), "l": .list([.text("a")]), "id": .text(id.uuidString),
                    "r": .object(["name": .text("n"), "done": .flag(false)]),
                ]))
    }
}
