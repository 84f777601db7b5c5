import Testing

@testable import CallboardDomain

/// The lifecycle written out again by hand from DESIGN §3: the table must say exactly this.
private let expected: [String: (from: Set<String>, to: String, actors: Set<String>)] = [
    "complete_information": (["requested"], "info_complete", ["admin", "triager", "system"]),
    "reopen_information": (["info_complete"], "requested", ["admin", "triager"]),
    "request_sign_off": (["info_complete"], "signoff_pending", ["admin", "triager"]),
    "approve_sign_off": (["signoff_pending"], "signoff_pending", ["admin", "triager", "sign_off_owner"]),
    "request_changes": (["signoff_pending"], "info_complete", ["admin", "triager", "sign_off_owner"]),
    "mark_built": (["signoff_pending"], "built", ["admin", "triager"]),
    "publish_preview": (["built"], "preview_published", ["admin", "triager"]),
    "go_live": (["preview_published"], "live", ["admin", "triager"]),
    "start_product_audit": (["live"], "product_audit", ["admin", "triager", "system"]),
    "complete_product_audit": (["product_audit"], "live", ["admin", "triager"]),
    "withdraw": (
        ["requested", "info_complete", "signoff_pending", "built", "preview_published", "live", "product_audit"],
        "withdrawn", ["admin", "triager"]
    ),
]

@Suite struct LifecycleTableTests {
    @Test func tableNamesEveryTransitionOnce() {
        #expect(Lifecycle.table.map(\.name.rawValue).sorted() == expected.keys.sorted())
        #expect(Set(Lifecycle.table.map(\.name)).count == TransitionName.allCases.count)
    }

    /// Every (state × transition × actor): fires exactly when the state and actor are allowed,
    /// lands in the declared state, and otherwise says why.
    @Test(arguments: RequestState.allCases)
    func everyStateTransitionActorCombination(state: RequestState) {
        for name in TransitionName.allCases {
            let spec = expected[name.rawValue]!
            for actor in ActorKind.allCases {
                let result = TransitionEngine.plan(name, on: Fixtures.satisfied(state, for: name), by: actor, arguments: Fixtures.fullArguments)
                let actorOK = spec.actors.contains(actor.rawValue)
                let stateOK = spec.from.contains(state.rawValue)
                switch result {
                case .success(let plan):
                    #expect(actorOK && stateOK, "\(name) by \(actor) from \(state) should be refused")
                    #expect(plan.to.rawValue == spec.to)
                    #expect(plan.from == state)
                case .failure(.forbidden(let a, let t)):
                    #expect(!actorOK, "\(name) by \(actor) wrongly forbidden")
                    #expect(a == actor && t == name)
                case .failure(.illegalFromState(let s, _, let allowed)):
                    #expect(actorOK && !stateOK, "\(name) by \(actor) from \(state) wrongly illegal")
                    #expect(s == state)
                    #expect(!allowed.contains(name))
                case .failure(.guardsUnmet(_, let unmet, _)):
                    Issue.record("\(name) by \(actor) from \(state): unexpected unmet guards \(unmet)")
                }
            }
        }
    }

    @Test func withdrawnIsFinal() {
        #expect(Lifecycle.transitions(from: .withdrawn).isEmpty)
        #expect(RequestState.allCases.filter(\.isFinal) == [.withdrawn])
    }

    @Test func viewerMayFireNothingAndReadRequests() {
        for name in TransitionName.allCases { #expect(!Permissions.allows(.viewer, .fire(name))) }
        #expect(Permissions.allows(.viewer, .readRequests))
        #expect(!Permissions.allows(.viewer, .createRequest))
    }

    @Test func permissionsDenyByDefault() {
        #expect(!Permissions.allows(.signOffOwner, .readRequests))
        #expect(!Permissions.allows(.system, .manageStaff))
        #expect(!Permissions.allows(.triager, .manageStaff))
        #expect(!Permissions.allows(.triager, .manageTokens))
        #expect(Permissions.allows(.admin, .manageTokens))
        #expect(Permissions.allows(.serviceContact, .supplyItems))
        #expect(!Permissions.allows(.serviceContact, .fire(.completeInformation)))
    }

    @Test func mermaidDrawsEveryEdge() {
        let m = WorkflowDiagram.mermaid()
        #expect(m.hasPrefix("stateDiagram-v2\n"))
        #expect(m.contains("    signoff_pending --> built: mark_built\n"))
        #expect(m.contains("    product_audit --> withdrawn: withdraw\n"))
        let edges = m.split(separator: "\n").filter { $0.contains(": ") }.count
        #expect(edges == expected.values.map(\.from.count).reduce(0, +))
        #expect(WorkflowDiagram.dot().contains("  built -> preview_published [label=\"publish_preview\"];"))
    }
}
