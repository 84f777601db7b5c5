import CallboardDomain

/// Valid values for each item, as a service contact would send them.
enum Fixtures {
    static let values: [ItemName: JSONValue] = [
        .contact: .object(["name": .string("Ada Lovelace"), "email": .string("ada@dvla.gov.uk"), "phone": .string("020 7946 0000")]),
        .signOffContact: .object(["name": .string("Grace Hopper"), "email": .string("grace@dvla.gov.uk"), "phone": .string("+44 20 7946 0001")]),
        .service: .object([
            "name": .string("Renew your driving licence"),
            "description": .string("Drivers renew their photocard licence online."),
            "start_page_url": .string("https://www.gov.uk/renew-driving-licence"),
        ]),
        .costPerTransaction: .object(["transactions_explorer_url": .string("https://www.gov.uk/performance/transactions-explorer/x")]),
        .userSatisfaction: .object(["done_page_url": .string("https://www.gov.uk/done/renew-driving-licence")]),
        .completionRate: .object([
            "analytics_provider": .string("google_analytics"),
            "read_access_granted": .bool(true),
            "goals": .array([.object(["start": .string("/start"), "completion": .string("/done")])]),
        ]),
        .digitalTakeUp: .object([
            "spreadsheet_reference": .string("channel-volumes-2026.xlsx"),
            "uploaders": .array([.object(["name": .string("Alan Turing"), "email": .string("alan@dvla.gov.uk")])]),
        ]),
        .serviceAvailability: .object(["health_check_url": .string("https://internal.dvla.gov.uk/health")]),
    ]

    static func provided(_ name: ItemName) -> ChecklistItem {
        ChecklistItem(status: .provided, value: values[name]!)
    }

    static var completeChecklist: Checklist {
        var c = Checklist()
        for name in ItemName.allCases { c[name] = provided(name) }
        return c
    }

    /// A request on which every request-side guard of `transition` holds, in `state`:
    /// undecided for the sign-off decisions, approved for everything else.
    static func satisfied(_ state: RequestState, for transition: TransitionName? = nil) -> RequestSnapshot {
        let deciding =
            transition == .approveSignOff || transition == .requestChanges
            || (transition == nil && state == .signoffPending)
        return RequestSnapshot(
            kind: .transactional, state: state, checklist: completeChecklist,
            signOffDecision: deciding ? nil : .approved)
    }

    /// Arguments that satisfy every input guard.
    static let fullArguments = TransitionArguments(
        reason: "because", evidence: "email of 3 March", previewURL: "https://preview.example.gov.uk/d",
        liveURL: "https://www.gov.uk/performance/d", outcome: .passed)
}
