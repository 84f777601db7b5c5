import Foundation
import Testing

@testable import CallboardDomain

/// docs/lifecycle.md's diagram and transition table are the table's own rendering.
@Suite struct DocumentationTests {
    static let readme: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("docs/lifecycle.md"), encoding: .utf8)) ?? ""
    }()

    @Test func readmeDiagramIsTheTable() {
        #expect(Self.readme.contains("```mermaid\n" + WorkflowDiagram.mermaid() + "```"))
    }

    @Test func readmeTransitionTableIsTheTable() {
        #expect(Self.readme.contains(WorkflowDiagram.markdownTable()))
        #expect(WorkflowDiagram.markdownTable().split(separator: "\n").count == Lifecycle.table.count + 2)
    }
}
