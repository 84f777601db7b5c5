/// Renders the lifecycle table as diagrams, so the docs can never drift from the rules.
public enum WorkflowDiagram {
    /// A Mermaid state diagram. `withdraw` (from every non-final state) is drawn once per state.
    public static func mermaid() -> String {
        var lines = ["stateDiagram-v2", "    [*] --> requested"]
        for def in Lifecycle.table {
            for from in def.from {
                lines.append("    \(from.rawValue) --> \(def.to.rawValue): \(def.name.rawValue)")
            }
        }
        lines.append("    withdrawn --> [*]")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The transition table for documentation: name, from, to, who may fire it, guards.
    public static func markdownTable() -> String {
        var lines = ["| transition | from | to | who may fire it | guards |", "|---|---|---|---|---|"]
        for def in Lifecycle.table {
            lines.append(
                "| `\(def.name.rawValue)` | " + def.from.map(\.rawValue).joined(separator: ", ") + " | \(def.to.rawValue) | "
                    + def.actors.sorted().map(\.rawValue).joined(separator: ", ") + " | "
                    + (def.guards.isEmpty ? "—" : def.guards.map(\.rawValue).joined(separator: ", ")) + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The same graph in Graphviz DOT.
    public static func dot() -> String {
        var lines = ["digraph callboard {", "  rankdir=LR;"]
        for state in RequestState.allCases {
            lines.append("  \(state.rawValue) [label=\"\(state.title)\"\(state.isFinal ? ", shape=doublecircle" : "")];")
        }
        for def in Lifecycle.table {
            for from in def.from {
                lines.append("  \(from.rawValue) -> \(def.to.rawValue) [label=\"\(def.name.rawValue)\"];")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}
