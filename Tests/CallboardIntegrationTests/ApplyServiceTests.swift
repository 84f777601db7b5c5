import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import PostgresNIO
import Testing

/// The front door's service on a real database: nothing is a request until the applicant confirms;
/// confirming makes one through RequestService with its emails; duplicates make none; limits hold.
@Suite(.serialized) struct ApplyServiceTests {
    static let logger = TestDatabase.logger

    struct Fixture {
        var db: PostgresClient
        var clock: TestClock
        var service: ApplyService
    }

    static func with(_ body: @Sendable (Fixture) async throws -> Void) async throws {
        try await TestDatabase.with { db, _ in
            let clock = TestClock()
            let outbox = EmailOutbox(settings: EmailSettings(), templates: try EmailTemplates.bundled())
            let requests = RequestService(db: db, time: clock, logger: logger, outbox: outbox, sla: try PreviewSLAHolder(.bundled()))
            let service = ApplyService(db: db, time: clock, logger: logger, outbox: outbox, requests: requests, settings: FrontDoorSettings())
            try await body(Fixture(db: db, clock: clock, service: service))
        }
    }

    static func item(_ value: [String: String]) -> JSONValue {
        .object(["status": .string("provided"), "value": .object(value.mapValues(JSONValue.string))])
    }

    /// A non-transactional application with every required step answered.
    static func answered(_ f: Fixture, client: String = "192.0.2.1", service name: String = "Renew a licence") async throws -> ApplicationRecord {
        var (_, app) = try await f.service.start(client: client)
        app = try await f.service.answer(app, csrf: app.csrf, step: .kind, form: [:], value: .string("non_transactional"))
        app = try await f.service.answer(
            app, csrf: app.csrf, step: .organisation, form: [:], value: .object(["department": .string("DVLA"), "division": .string("scotland")]))
        app = try await f.service.answer(
            app, csrf: app.csrf, step: .contact, form: [:], value: item(["name": "Ada", "email": "ada@dvla.gov.uk", "phone": "020 7946 0000"]))
        app = try await f.service.answer(
            app, csrf: app.csrf, step: .signOffContact, form: [:],
            value: item(["name": "Grace", "email": "grace@supplier.example", "phone": "020 7946 0001"]))
        return try await f.service.answer(
            app, csrf: app.csrf, step: .service, form: [:],
            value: item(["name": name, "description": "Drivers renew", "start_page_url": "https://www.gov.uk/renew-\(name.count)"]))
    }

    /// The token the worker would mint for the newest application link of `purpose`.
    static func mintedLink(_ f: Fixture, _ purpose: String) async throws -> String {
        let rows = try await f.db.query(
            """
            SELECT l.id, e.id FROM application_links l JOIN emails e ON e.body_text LIKE '%' || replace(l.id::text, '-', '') || '%'
            WHERE l.purpose = \(purpose) ORDER BY l.created_at DESC LIMIT 1
            """, logger: logger)
        for try await (link, email) in rows.decode((UUID, UUID).self) {
            let token = NewLink.random()
            _ = try await LinkTokenStore.mint([.init(emailID: email, linkID: link, token: token)], at: f.clock.now(), on: f.db, logger: logger)
            return token
        }
        Issue.record("no \(purpose) link")
        return ""
    }

    static func count(_ f: Fixture, _ sql: String) async throws -> Int {
        for try await n in try await f.db.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int.self) { return n }
        return -1
    }

    @Test func confirmingMakesTheRequestWithItsEmailsAndNothingBefore() async throws {
        try await Self.with { f in
            let app = try await Self.answered(f)
            #expect(try await f.service.submit(app, csrf: app.csrf, client: "192.0.2.1") == "ada@dvla.gov.uk")
            #expect(try await Self.count(f, "SELECT count(*)::int FROM requests") == 0)
            let token = try await Self.mintedLink(f, "confirm")
            guard case .created(let r) = try await f.service.confirm(token) else {
                Issue.record("not created")
                return
            }
            #expect(r.state == .infoComplete)
            #expect(r.department == "DVLA" && r.division == "scotland" && r.kind == .nonTransactional)
            #expect(r.reference.wholeMatch(of: /CB-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}/) != nil)
            #expect(
                try await Self.count(f, "SELECT count(*)::int FROM emails WHERE kind = 'sign_off_heads_up' AND recipient = 'grace@supplier.example'")
                    == 1)
            #expect(try await Self.count(f, "SELECT count(*)::int FROM emails WHERE kind = 'new_application'") == 1)
            #expect(
                try await Self.count(f, "SELECT count(*)::int FROM request_events WHERE kind = 'created' AND actor_kind = 'service_contact'") == 1)
            // Single use.
            #expect(try await f.service.confirm(token) == nil)
            #expect(try await f.service.linkState(token, purpose: .confirm) == .used)
        }
    }

    @Test func aSecondApplicationForTheSameServiceMakesNoRequest() async throws {
        try await Self.with { f in
            for _ in 0..<2 {
                let app = try await Self.answered(f)
                _ = try await f.service.submit(app, csrf: app.csrf, client: "192.0.2.1")
                let outcome = try await f.service.confirm(try await Self.mintedLink(f, "confirm"))
                #expect(outcome != nil)
                f.clock.advance(by: 60)
            }
            #expect(try await Self.count(f, "SELECT count(*)::int FROM requests") == 1)
            #expect(try await Self.count(f, "SELECT count(*)::int FROM applications WHERE status = 'duplicate'") == 1)
            #expect(try await Self.count(f, "SELECT count(*)::int FROM emails WHERE kind = 'new_application'") == 2)
        }
    }

    @Test func anAddressOutsideTheAllowedDomainsIsRefusedBesideTheField() async throws {
        try await Self.with { f in
            let (_, app) = try await f.service.start(client: "192.0.2.1")
            await #expect(throws: ApplyService.Failure.self) {
                _ = try await f.service.answer(
                    app, csrf: app.csrf, step: .contact, form: [:],
                    value: Self.item(["name": "A", "email": "a@example.com", "phone": "020 7946 0000"]))
            }
            await #expect(throws: ApplyService.Failure.badCSRF) {
                _ = try await f.service.answer(app, csrf: "forged", step: .kind, form: [:], value: .string("transactional"))
            }
        }
    }

    @Test func emailsAreLimitedPerAddressAndApplicationsPerClient() async throws {
        try await Self.with { f in
            let app = try await Self.answered(f, client: "192.0.2.9")
            for _ in 0..<5 { _ = try await f.service.submit(app, csrf: app.csrf, client: "192.0.2.9") }
            await #expect(throws: RateLimited.self) { _ = try await f.service.submit(app, csrf: app.csrf, client: "192.0.2.9") }
            // 20 per client an hour, the emails above included.
            for _ in 0..<20 { _ = try await f.service.start(client: "198.51.100.7") }
            await #expect(throws: RateLimited.self) { _ = try await f.service.start(client: "198.51.100.7") }
            f.clock.advance(by: 3601)
            _ = try await f.service.start(client: "198.51.100.7")
        }
    }

    @Test func unconfirmedApplicationsArePurgedAfterSevenDays() async throws {
        try await Self.with { f in
            let app = try await Self.answered(f)
            _ = try await f.service.submit(app, csrf: app.csrf, client: "192.0.2.1")
            _ = try await Self.mintedLink(f, "confirm")
            let cutoffs = RetentionStore.Cutoffs(
                now: f.clock.now().addingTimeInterval(7 * 86_400 + 1), pageLinksExpiredBy: .distantPast, sessionsOverBy: .distantPast,
                idempotencyKeysCreatedBy: .distantPast, emailsSentBy: .distantPast)
            let batch = try await RetentionStore.purgeBatch(.applications, cutoffs, limit: 100, on: f.db, logger: Self.logger)
            #expect(batch == RetentionStore.Batch(rows: 1, linkTokens: 1))
            #expect(try await Self.count(f, "SELECT count(*)::int FROM application_links") == 0)
        }
    }

    @Test func formsAreKeptWithoutNULsAndBoundedSoAnAnonymousRowStaysSmall() async throws {
        try await Self.with { f in
            var (_, app) = try await f.service.start(client: "192.0.2.1")
            app = try await f.service.keepDraft(
                app, csrf: app.csrf, step: .service, form: ["name": "Tax\u{0} online", "description": String(repeating: "é", count: 4_000)])
            let kept = app.answers["forms"]?["service"]
            #expect(kept?["name"]?.stringValue == "Tax online")
            #expect(kept?["description"]?.stringValue?.utf8.count == 5_000)
            let huge = Dictionary(uniqueKeysWithValues: (0..<200).map { ("f\($0)", String(repeating: "x", count: 5_000)) })
            await #expect(throws: ApplyService.Failure.self) { _ = try await f.service.keepDraft(app, csrf: app.csrf, step: .service, form: huge) }
            #expect(try await Self.count(f, "SELECT max(octet_length(answers::text))::int FROM applications") < 20_000)
        }
    }

    @Test func aResumeLinkWorksOnceAndSubAddressesShareTheAddressLimit() async throws {
        try await Self.with { f in
            let app = try await Self.answered(f)
            try await f.service.sendResumeLink(app, csrf: app.csrf, email: "ada@dvla.gov.uk", client: "192.0.2.1")
            let token = try await Self.mintedLink(f, "resume")
            #expect(try await f.service.resume(token) != nil)
            #expect(try await f.service.resume(token) == nil)
            #expect(try await f.service.linkState(token, purpose: .resume) == .used)
            for i in 0..<4 { try await f.service.sendResumeLink(app, csrf: app.csrf, email: "ada+\(i)@dvla.gov.uk", client: "192.0.2.\(i + 2)") }
            await #expect(throws: RateLimited.self) {
                try await f.service.sendResumeLink(app, csrf: app.csrf, email: "ADA+x@dvla.gov.uk", client: "192.0.2.99")
            }
        }
    }

    @Test func clientAddressesComeFromForwardedForOnlyBehindTrustedProxies() {
        #expect(ClientAddress.resolve(peer: "203.0.113.5", forwardedFor: "1.2.3.4", trusted: []) == "203.0.113.5")
        #expect(ClientAddress.resolve(peer: "10.0.0.2", forwardedFor: "6.6.6.6, 198.51.100.4", trusted: ["10.0.0.2"]) == "198.51.100.4")
        #expect(ClientAddress.resolve(peer: "10.0.0.2", forwardedFor: "198.51.100.4, 10.0.0.3", trusted: ["10.0.0.2", "10.0.0.3"]) == "198.51.100.4")
        #expect(ClientAddress.resolve(peer: "10.0.0.2", forwardedFor: "not an address", trusted: ["10.0.0.2"]) == "10.0.0.2")
        #expect(ClientAddress.isIPAddress("::1") && ClientAddress.isIPAddress("192.0.2.1") && !ClientAddress.isIPAddress("example.com"))
    }
}
