import CallboardDomain
import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import CallboardServices
@testable import CallboardStorage

extension TestApp {
    /// A working token for a stored link, as the worker would mint it when sending its email
    /// (for tests that open a page without sending email first).
    func mintToken(for linkID: UUID) async throws -> String {
        let token = NewLink.random()
        try await db.query(
            "INSERT INTO link_tokens (token_hash, link_id, created_at) VALUES (\(LinkStore.hash(token)), \(linkID), now())",
            logger: TestDatabase.logger)
        return token
    }
}

/// No usable link secret is ever stored or shown: emails hold placeholders, the worker mints each
/// token when it sends the email and stores only its hash.
@Suite struct LinkSecretTests {
    static let logger = TestDatabase.logger
    /// A link's secret as it appears in a URL: the page, then 43 base64url characters.
    static var tokenInURL: Regex<(Substring, Substring, Substring)> { #/(sign-off|tasks|upload|staff/sign-in)/([A-Za-z0-9_-]{43})/# }

    static func tokens(in text: String) -> Set<String> {
        Set(text.matches(of: tokenInURL).map { String($0.output.2) })
    }

    /// Every row of every table of the database, as text (a dump as far as secrets go).
    static func dump(_ db: PostgresClient) async throws -> String {
        var tables: [String] = []
        for try await t in try await db.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", logger: logger
        ).decode(String.self) { tables.append(t) }
        var out = ""
        for t in tables {
            let rows = try await db.query(PostgresQuery(unsafeSQL: "SELECT coalesce(string_agg(x::text, E'\\n'), '') FROM \(t) x"), logger: logger)
            for try await text in rows.decode(String.self) { out += text + "\n" }
        }
        return out
    }

    @Test func linksAreMintedAtSendTimeAndNeverStoredOrShown() async throws {
        try await TestApp.run { app in
            // A task-list link (information missing), a sign-off link, upload links and a staff sign-in link.
            let partial = try await app.call(
                .post, "/api/v1/requests", json: Items.request(["contact": Items.contact, "service": Items.service]))
            #expect(partial.status == .created)
            let id = try await app.requestAwaitingSignOff()
            #expect(try await app.call(.post, "/api/v1/requests/\(id)/data-sets", json: DataSetAPITests.monthly).status == .created)
            let outbox = EmailOutbox(settings: EmailSettings(), templates: try EmailTemplates.bundled())
            try await StaffSignInService(db: app.db, time: app.clock, logger: Self.logger, outbox: outbox).requestLink(email: "admin@callboard.test")

            let stored = try await Self.dump(app.db)
            #expect(Self.tokens(in: stored).isEmpty)
            #expect(stored.contains("/sign-off/cblink_") && stored.contains("/tasks/cblink_"))
            #expect(stored.contains("/upload/cblink_") && stored.contains("/staff/sign-in/cblink_"))

            // The worker mints one token a link and sends it; each opens its link.
            let t = RecordingTransport()
            #expect(try await app.worker(t).runOnce() == 4)
            let sent = t.sent.withLock { $0 }
            var byPage: [String: String] = [:]
            for e in sent {
                for m in (e.text + e.html).matches(of: Self.tokenInURL) { byPage[String(m.output.1)] = String(m.output.2) }
                #expect(!e.text.contains("cblink_") && !e.html.contains("cblink_"))
            }
            #expect(Set(byPage.keys) == ["sign-off", "tasks", "upload", "staff/sign-in"])
            let signOff = try await LinkStore.find(token: byPage["sign-off"]!, on: app.db, logger: Self.logger)
            #expect(signOff?.email == "grace@dvla.gov.uk" && signOff?.purpose == .signOff)
            #expect(try await LinkStore.find(token: byPage["tasks"]!, on: app.db, logger: Self.logger)?.email == "ada@dvla.gov.uk")
            #expect(try await LinkStore.find(token: byPage["upload"]!, on: app.db, logger: Self.logger)?.email == "sam@dvla.gov.uk")
            let signIn = try await StaffSessionStore.signInLink(byPage["staff/sign-in"]!, at: app.clock.now(), on: app.db, logger: Self.logger)
            guard case .valid = signIn else {
                Issue.record("sign-in link not valid: \(signIn)")
                return
            }

            // Sent: still no secret in the database; the API shows bodies redacted, and not to viewers.
            let sentTokens = Set(byPage.values)
            let after = try await Self.dump(app.db)
            #expect(sentTokens.allSatisfy { !after.contains($0) })
            let viewer = try await app.token(role: .viewer)
            let triager = try await app.token(role: .triager)
            for e in sent {
                let path = "/api/v1/emails/\(e.id.uuidString.lowercased())"
                #expect(try await app.call(.get, path, token: viewer).json["body_text"] == .null)
                let body = try await app.call(.get, path, token: triager).json["body_text"]?.stringValue ?? ""
                #expect(!body.isEmpty && !body.contains("cblink_") && sentTokens.allSatisfy { !body.contains($0) })
            }
            let readable = try await app.call(.get, "/api/v1/emails/\(sent.first { $0.kind == "sign_off_request" }!.id.uuidString.lowercased())")
            #expect(readable.json["body_text"]?.stringValue?.contains("http://127.0.0.1:8080/sign-off/redacted") == true)
            for path in ["/api/v1/emails", "/api/v1/requests/\(id)/events", "/api/v1/requests/\(id)", "/api/v1/requests"] {
                let text = try await app.call(.get, path).text
                #expect(sentTokens.allSatisfy { !text.contains($0) }, "\(path)")
            }
        }
    }

    /// Sending again after an unknown outcome mints a fresh token; the first may have been delivered,
    /// so it keeps working until the link expires.
    @Test func aResendMintsAFreshTokenAndTheFirstStillWorks() async throws {
        try await TestApp.run { app in
            try await app.requestAwaitingSignOff()
            let t = RecordingTransport()
            #expect(try await app.worker(t).runOnce() == 1)
            try await app.db.query("UPDATE emails SET status = 'queued'", logger: Self.logger)  // as after a lost reply
            #expect(try await app.worker(t).runOnce() == 1)
            let tokens = t.sent.withLock { $0 }.map { Self.tokens(in: $0.text).first ?? "" }
            #expect(tokens.count == 2 && tokens[0] != tokens[1])
            for token in tokens { #expect(try await LinkStore.find(token: token, on: app.db, logger: Self.logger)?.email == "grace@dvla.gov.uk") }
        }
    }

    /// Text that imitates another person's placeholder (say, in a service name) mints nothing: a
    /// token is only minted for a link that belongs to the email's own recipient.
    @Test func aPlaceholderForSomeoneElsesLinkMintsNothing() async throws {
        try await TestApp.run { app in
            try await app.requestAwaitingSignOff()
            let body = try await app.db.query("SELECT body_text FROM emails", logger: Self.logger).collect()[0].decode(String.self)
            let graces = try #require(LinkPlaceholder.ids(in: [body]).first)
            let forged = NewEmail(
                requestID: nil, kind: "live", recipient: "mallory@example.com", subject: "s",
                bodyText: "http://127.0.0.1:8080/sign-off/\(LinkPlaceholder.text(for: graces))", bodyHTML: "", templateData: .object([:]),
                dedupKey: nil, runAt: app.clock.now(), maxAttempts: 3, messageDomain: "callboard.test")
            try await app.db.withConnection { _ = try await EmailStore.enqueue(forged, at: app.clock.now(), on: $0, logger: Self.logger) }
            let t = RecordingTransport()
            #expect(try await app.worker(t).runOnce() == 2)
            let mallory = t.sent.withLock { $0 }.first { $0.to == "mallory@example.com" }
            #expect(mallory?.text == "http://127.0.0.1:8080/sign-off/redacted")
            #expect(try await app.count("link_tokens") == 1)
        }
    }

    /// A placeholder typed into text a person controls (here the service name, shown in the email
    /// that tells the contact the request was withdrawn) is broken up when the email is drafted:
    /// even for the recipient's own link, no token is minted where a person chose to put it.
    @Test func aPlaceholderInTypedTextMintsNothingEvenForTheRecipientsOwnLink() async throws {
        try await TestApp.run { app in
            let created = try await app.call(
                .post, "/api/v1/requests", json: Items.request(["contact": Items.contact, "service": Items.service]))
            let id = created.json["id"]!.stringValue!
            let body = try await app.db.query("SELECT body_text FROM emails", logger: Self.logger).collect()[0].decode(String.self)
            let adas = try #require(LinkPlaceholder.ids(in: [body]).first)
            let trap = "https://evil.example/p?\(LinkPlaceholder.text(for: adas))"
            let renamed = try await app.call(
                .patch, "/api/v1/requests/\(id)",
                json: .object([
                    "items": .object([
                        "service": Items.provided([
                            "name": .string(trap), "description": .string("d"), "start_page_url": .string("https://www.gov.uk/x"),
                        ])
                    ])
                ]), headers: [.ifMatch: created.etag!])
            #expect(renamed.status == .ok)
            let withdrawn = try await app.call(
                .post, "/api/v1/requests/\(id)/transitions/withdraw", json: .object(["reason": .string("test")]),
                headers: [.ifMatch: renamed.etag!])
            #expect(withdrawn.status == .ok)
            let t = RecordingTransport()
            #expect(try await app.worker(t).runOnce() == 2)
            let sent = t.sent.withLock { $0 }
            let notice = try #require(sent.first { $0.kind == "withdrawn" })
            #expect(notice.text.contains("https://evil.example/p?cblink-\(LinkPlaceholder.text(for: adas).dropFirst(7))"))
            // Only the task-list email's own link was minted.
            #expect(try await app.count("link_tokens") == 1)
        }
    }

    /// A relay that quotes the message back in its refusal: the stored error has the link redacted.
    @Test func aRelayQuotingTheLinkBackStoresItRedacted() async throws {
        struct Quoting: EmailTransport {
            var name: String { "quoting" }
            func send(_ email: OutgoingEmail) async throws(DeliveryError) { throw .permanent("554 blocked: \(email.text)", badAddress: false) }
            func shutdown() async {}
        }
        try await TestApp.run { app in
            try await app.requestAwaitingSignOff()
            #expect(try await app.worker(Quoting()).runOnce() == 1)
            let stored = try await app.db.query(
                "SELECT e.last_error || ' ' || a.error FROM emails e JOIN email_attempts a ON a.email_id = e.id", logger: Self.logger
            ).collect().map { try $0.decode(String.self) }
            #expect(stored.count == 1)
            #expect(stored[0].contains("http://127.0.0.1:8080/sign-off/redacted") && Self.tokens(in: stored[0]).isEmpty)
        }
    }

    @Test func onlyLinkValuesKeepTheirPlaceholders() {
        let id = UUID()
        let p = LinkPlaceholder.text(for: id)
        let out = EmailOutbox.neutralisePlaceholders(
            TemplateValue.context([
                "link": "http://x/tasks/\(p)", "service_name": "a \(p)", "lines": ["b \(p)"],
                "items": [["link": "http://x/upload/\(p)", "headline": "c \(p)"]],
            ]))
        let broken = "cblink-\(p.dropFirst(7))"
        #expect(
            out
                == .object([
                    "link": .text("http://x/tasks/\(p)"), "service_name": .text("a \(broken)"), "lines": .list([.text("b \(broken)")]),
                    "items": .list([.object(["link": .text("http://x/upload/\(p)"), "headline": .text("c \(broken)")])]),
                ]))
    }

    /// Migration 0012 moves existing hashes (old links keep working) and scrubs tokens already in the outbox.
    @Test func theMigrationScrubsStoredTokensAndKeepsLinksWorking() async throws {
        try await TestDatabase.with(migrated: false) { db, _ in
            let all = try Migration.bundled()
            let before = Array(all.prefix { $0.name < "0012" })
            try await Migrator(migrations: before, logger: Self.logger).migrate(db)
            let request = UUID()
            let link = UUID()
            let email = UUID()
            let token = NewLink.random()
            try await db.query(
                """
                INSERT INTO requests (id, kind, state, department, items, created_at, updated_at, state_entered_at)
                VALUES (\(request), 'transactional', 'signoff_pending', 'DVLA', '{}', now(), now(), now())
                """, logger: Self.logger)
            try await db.query(
                """
                INSERT INTO links (id, token_hash, purpose, request_id, email, request_version, csrf, created_at, expires_at)
                VALUES (\(link), \(LinkStore.hash(token)), 'sign_off', \(request), 'grace@dvla.gov.uk', 1, 'c', now(), now() + interval '1 day')
                """, logger: Self.logger)
            let url = "http://127.0.0.1:8080/sign-off/\(token)"
            let unknown = "http://127.0.0.1:8080/tasks/\(NewLink.random())"
            try await db.query(
                """
                INSERT INTO emails (id, request_id, kind, recipient, subject, body_text, body_html, template_data, status, run_at,
                                    message_id, created_at, updated_at)
                VALUES (\(email), \(request), 'sign_off_request', 'grace@dvla.gov.uk', 's', \(url + " " + unknown), \(url),
                        \("{\"link\": \"\(url)\"}")::jsonb, 'queued', now(), '<m@x>', now(), now())
                """, logger: Self.logger)
            try await Migrator(migrations: all, logger: Self.logger).migrate(db)
            let stored = try await EmailStore.fetch(email, on: db, logger: Self.logger)
            let placeholder = "http://127.0.0.1:8080/sign-off/\(LinkPlaceholder.text(for: link))"
            #expect(stored?.bodyText == placeholder + " http://127.0.0.1:8080/tasks/redacted")
            #expect(stored?.bodyHTML == placeholder)
            #expect(stored?.templateData == .object(["link": .string(placeholder)]))
            #expect(try await LinkStore.find(token: token, on: db, logger: Self.logger)?.id == link)
        }
    }
}
