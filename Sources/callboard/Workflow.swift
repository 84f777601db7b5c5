import ArgumentParser
import CallboardDomain

/// Prints the lifecycle table as a diagram; docs/lifecycle.md's diagram is this output (a test checks it).
struct Workflow: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the lifecycle as a Mermaid or Graphviz diagram.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case mermaid, dot, markdown }

    @Option(name: .long, help: "mermaid, dot or markdown (the transition table)") var format: Format = .mermaid

    func run() {
        switch format {
        case .mermaid: print(WorkflowDiagram.mermaid(), terminator: "")
        case .dot: print(WorkflowDiagram.dot(), terminator: "")
        case .markdown: print(WorkflowDiagram.markdownTable(), terminator: "")
        }
    }
}
