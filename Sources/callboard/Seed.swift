import ArgumentParser
import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import Logging

/// Fills a local database with realistic requests in every state, through the same services the
/// API uses, so a newcomer sees a populated queue with real histories.
struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create example dashboard requests in different states (for local runs).")
    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Seed even a database that holds requests `seed` did not create")
    var force = false

    @Option(help: "How many back-dated requests to create over the past 12 months (0: only the nine examples)")
    var history = 150

    func run() async throws {
        let settings = try database.settings()
        let logger = Logs.bootstrap(settings)
        let (force, url) = (self.force, try settings.database())
        try await withDatabase(settings, logger: logger) { client in
            try await Migrator(migrations: try Migration.bundled(), logger: logger).requireCurrent(client)
            // Seeded requests are recognised by their `created` event's actor (DevelopmentData.seed).
            try await DevelopmentData.seed.requireOwnData(force: force, database: url.description, on: client, logger: logger)
            let outbox = EmailOutbox(settings: EmailSettings(settings), templates: try EmailTemplates.bundled())
            let sla = PreviewSLAHolder(try await .current(db: client, logger: logger, workingDays: settings.previewSLAWorkingDays))
            let service = RequestService(db: client, time: SystemTime(), logger: logger, outbox: outbox, sla: sla)
            let seeder = Principal(actor: .admin, email: DevelopmentData.seed.createdBy)
            if history > 0 {
                // The past year first, on a clock of its own; what it queued is never sent.
                let started = Date()
                let past = try await DemoHistory(
                    db: client, logger: logger, outbox: outbox, sla: sla, count: history,
                    staffEmail: DevelopmentData.seed.createdBy!
                ).run(until: started)
                let cancelled = try await DevelopmentData.seed.cancelQueuedEmails(at: Date(), on: client, logger: logger)
                print(
                    "history: \(past.requests) requests over 12 months, \(past.transitions) transitions, \(past.uploads) uploads, "
                        + "\(cancelled) back-dated emails cancelled (\(Int(Date().timeIntervalSince(started))) s)")
            }
            for example in ExampleRequests.all {
                var record = try await service.create(example.body, by: seeder)
                for (name, args) in example.path {
                    let body: JSONValue? = args.isEmpty ? nil : .object(args.mapValues(JSONValue.string))
                    let actor = name == .approveSignOff ? Principal(actor: .signOffOwner, email: "owner@example.gov.uk") : seeder
                    record = try await service.transition(record.id, name, body, expectedVersion: record.version, by: actor)
                }
                print(
                    "\(record.state.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)) \(record.checklist.serviceName ?? "(no name yet)")")
            }
        }
    }
}

enum ExampleRequests {
    struct Example {
        var body: JSONValue
        var path: [(TransitionName, [String: String])]
    }

    // The items are the demo history's own (ExampleItems), so both seeds describe services alike.
    static func person(_ name: String, _ email: String, _ phone: String) -> JSONValue { ExampleItems.person(name, email, phone) }
    static func service(_ name: String, _ description: String, _ slug: String) -> JSONValue { ExampleItems.service(name, description, slug) }
    static let rest = ExampleItems.rest

    static func full(_ dept: String, _ name: String, _ description: String, _ slug: String) -> JSONValue {
        var items: [String: JSONValue] = rest
        let domain = dept.lowercased().replacingOccurrences(of: " ", with: "")
        items["contact"] = person("Jo Bloggs", "jo.bloggs@\(domain).gov.uk", "020 7946 0123")
        items["sign_off_contact"] = person("Pat Senior", "pat.senior@\(domain).gov.uk", "020 7946 0456")
        items["service"] = service(name, description, slug)
        return .object(["kind": .string("transactional"), "department": .string(dept), "items": .object(items)])
    }

    static let approve: [(TransitionName, [String: String])] = [(.requestSignOff, [:]), (.approveSignOff, [:])]

    static let all: [Example] = [
        Example(
            body: .object([
                "kind": .string("transactional"), "department": .string("DVLA"),
                "items": .object([
                    "contact": person("Ada Lovelace", "ada.lovelace@dvla.gov.uk", "020 7946 0001"),
                    "service": service("Renew your driving licence", "Drivers renew their photocard licence online.", "renew-driving-licence"),
                ]),
            ]), path: []),
        Example(
            body: .object([
                "kind": .string("non_transactional"), "department": .string("HMRC"),
                "items": .object([
                    "contact": person("Grace Hopper", "grace.hopper@hmrc.gov.uk", "020 7946 0002")
                ]),
            ]), path: []),
        Example(body: full("DVSA", "Book your driving test", "People book their practical driving test.", "book-driving-test"), path: []),
        Example(body: full("HMPO", "Renew your passport", "Adults renew a passport online.", "renew-adult-passport"), path: [(.requestSignOff, [:])]),
        Example(
            body: full("DEFRA", "Get a fishing licence", "Anglers buy a rod fishing licence.", "fishing-licences"),
            path: approve + [(.markBuilt, [:])]),
        Example(
            body: full("MOJ", "Make a lasting power of attorney", "People appoint attorneys online.", "power-of-attorney"),
            path: approve + [(.markBuilt, [:]), (.publishPreview, ["preview_url": "https://preview.performance.example.gov.uk/lpa"])]),
        Example(
            body: full("DWP", "Apply for Carer's Allowance", "Carers apply for Carer's Allowance online.", "carers-allowance"),
            path: approve + [
                (.markBuilt, [:]), (.publishPreview, ["preview_url": "https://preview.performance.example.gov.uk/carers"]),
                (.goLive, ["live_url": "https://www.gov.uk/performance/carers-allowance"]),
            ]),
        Example(
            body: full(
                "Companies House", "File your confirmation statement", "Companies confirm their details each year.", "file-confirmation-statement"),
            path: approve + [
                (.markBuilt, [:]), (.publishPreview, ["preview_url": "https://preview.performance.example.gov.uk/ch"]),
                (.goLive, ["live_url": "https://www.gov.uk/performance/confirmation-statement"]), (.startProductAudit, [:]),
            ]),
        Example(
            body: full("Home Office", "Apply for a visitor visa", "Visitors apply for a UK visa.", "standard-visitor"),
            path: [(.withdraw, ["reason": "Service is being replaced; a new request will follow"])]),
    ]
}
