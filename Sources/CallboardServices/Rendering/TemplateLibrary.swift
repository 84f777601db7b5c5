import Foundation

/// A folder's `.mustache` files, parsed once, named by file (without the extension), rendered
/// over `TemplateValue`s: the email templates and the pages. swift-mustache looked every name up
/// through `Any` and its dynamic casts, 42% of the scheduler's time rendering 10,000 digests.
public struct TemplateLibrary: Sendable {
    let templates: [String: [TemplateNode]]

    public init(directory: URL) throws {
        var templates: [String: [TemplateNode]] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            do {
                templates[String(file.dropLast(".mustache".count))] = try TemplateParser.parse(text)
            } catch {
                throw TemplateError(file: file, problem: "\(error)")
            }
        }
        self.templates = templates
    }

    public struct TemplateError: Error, CustomStringConvertible {
        public var file: String
        public var problem: String
        public var description: String { "\(file): \(problem)" }
    }

    public var names: Set<String> { Set(templates.keys) }

    public func render(_ context: [String: Any], withTemplate name: String) -> String? {
        render(TemplateValue.context(context), withTemplate: name)
    }

    public func render(_ context: TemplateValue, withTemplate name: String) -> String? {
        guard let nodes = templates[name] else { return nil }
        var out = ""
        var stack = [context]
        render(nodes, stack: &stack, escaping: .html, into: &out)
        return out
    }

    private func render(_ nodes: [TemplateNode], stack: inout [TemplateValue], escaping: TemplateNode.Escaping, into out: inout String) {
        var escaping = escaping
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .variable(let path, let escaped):
                if let value = Self.lookup(path, in: stack) { out += escaped ? escaping.apply(value.interpolated) : value.interpolated }
            case .section(let path, let body):
                switch Self.lookup(path, in: stack) {
                case nil, .flag(false): break
                case .flag(true): render(body, stack: &stack, escaping: escaping, into: &out)
                case .list(let items):
                    for item in items {
                        stack.append(item)
                        render(body, stack: &stack, escaping: escaping, into: &out)
                        stack.removeLast()
                    }
                case let value?:
                    stack.append(value)
                    render(body, stack: &stack, escaping: escaping, into: &out)
                    stack.removeLast()
                }
            case .inverted(let path, let body):
                switch Self.lookup(path, in: stack) {
                case nil, .flag(false): render(body, stack: &stack, escaping: escaping, into: &out)
                case .list(let items) where items.isEmpty: render(body, stack: &stack, escaping: escaping, into: &out)
                default: break
                }
            case .partial(let name):
                // As in swift-mustache, a partial starts in HTML whatever its caller switched to.
                if let partial = templates[name] { render(partial, stack: &stack, escaping: .html, into: &out) }
            case .escaping(let change):
                escaping = change
            }
        }
    }

    /// Mustache's look-up: the first name from the innermost value outwards, the rest within it.
    private static func lookup(_ path: [String], in stack: [TemplateValue]) -> TemplateValue? {
        guard let first = path.first else { return stack.last }
        for scope in stack.reversed() {
            guard var value = scope[first] else { continue }
            for key in path.dropFirst() {
                guard let inner = value[key] else { return nil }
                value = inner
            }
            return value
        }
        return nil
    }
}
