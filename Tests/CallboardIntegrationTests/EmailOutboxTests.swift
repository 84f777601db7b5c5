import CallboardDomain
import CallboardServices
import Foundation
import HTTPTypes
import PostgresNIO
import Synchronization
import Testing

@testable import CallboardStorage

/// Records every delivery and fails on demand: a stand-in used only where the test is about the
/// queue's bookkeeping (the real transports have their own tests against real servers).
final class RecordingTransport: EmailTransport {
    let sent = Mutex<[OutgoingEmail]>([])
    let failure = Mutex<DeliveryError?>(nil)
    var name: String { "recording" }
    func send(_ email: OutgoingEmail) async throws(DeliveryError) {
        if let f = failure.withLock({ $0 }) { throw f }
        sent.withLock { $0.append(email) }
    }
    func shutdown() async {}
}

extension TestApp {
    func worker(
        _ transport: any EmailTransport, id: String = "w1", retry: RetryPolicy = RetryPolicy(baseSeconds: 30, capSeconds: 3600, maxAttempts: 3)
    ) -> EmailWorker {
        var s = WorkerSettings()
        s.workerID = id
        s.leaseSeconds = 30
        return EmailWorker(
            db: db, listenURL: nil, transport: transport, settings: s,
            email: EmailSettings(retry: retry), time: clock, logger: TestDatabase.logger, random: { 0.5 })
    }

    /// A request waiting for sign-off: one sign-off email queued to grace@dvla.gov.uk.
    func requestAwaitingSignOff() async throws -> String {
        let r = try await call(.post, "/api/v1/requests", json: Items.request(Items.all))
        let id = r.json["id"]!.stringValue!
        let s = try await call(.post, "/api/v1/requests/\(id)/transitions/request_sign_off", headers: [.ifMatch: r.etag!])
        #expect(s.status == .ok)
        return id
    }

    /// Queues `count` product-audit emails to distinct addresses, no request, no dedup key, in one transaction.
    func queueEmails(_ count: Int) async throws {
        try await db.transaction(logger: TestDatabase.logger) { conn in
            let outbox = EmailOutbox(settings: EmailSettings(), templates: try EmailTemplates.bundled())
            for i in 0..<count {
                try await outbox.queue(
                    .productAuditStarted, to: "team\(i)@example.gov.uk", requestID: nil, context: ["service_name": "S\(i)"],
                    dedupKey: nil, at: clock.now(), on: conn, logger: TestDatabase.logger)
            }
        }
    }

    func emails(_ query: String = "") async throws -> [JSONValue] {
        try await call(.get, "/api/v1/emails" + query).json["items"]?.arrayValue ?? []
    }
}

@Suite struct EmailOutboxTests {
    @Test func transitionQueuesItsEmailInTheSameTransaction() async throws {
        try await TestApp.run { app in
            let id = try await app.requestAwaitingSignOff()
            let emails = try await app.emails()
            #expect(emails.count == 1)
            let e = emails[0]
            #expect(e["kind"] == .string("sign_off_request"))
            #expect(e["recipient"] == .string("grace@dvla.gov.uk"))
            #expect(e["status"] == .string("queued"))
            #expect(e["subject"] == .string("Please approve the Renew your driving licence dashboard"))
            #expect(e["dedup_key"] == .string("\(id):v3:sign_off_request:sign_off_owner"))
            let events = try await app.call(.get, "/api/v1/requests/\(id)/events").json["items"]!.arrayValue!
            #expect(events.last?["kind"] == .string("email_queued"))
            #expect(events.last?["version"] == .number(3))
        }
    }

    @Test func aRefusedTransitionQueuesNothing() async throws {
        try await TestApp.run { app in
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let stale = try await app.call(
                .post, "/api/v1/requests/\(r.json["id"]!.stringValue!)/transitions/request_sign_off", headers: [.ifMatch: "\"v1\""])
            #expect(stale.status == .preconditionFailed)
            #expect(try await app.count("emails") == 0)
        }
    }

    @Test func fileTransportWritesACompleteMessage() async throws {
        try await TestApp.run { app in
            let id = try await app.requestAwaitingSignOff()
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cb-mail-\(UUID())").path
            let transport = try FileTransport(directory: dir, threads: 1)
            #expect(try await app.worker(transport).runOnce() == 1)
            await transport.shutdown()
            let files = try FileManager.default.contentsOfDirectory(atPath: dir)
            #expect(files.count == 1)
            let eml = try String(contentsOfFile: dir + "/" + files[0], encoding: .utf8)
            let email = try await app.emails()[0]
            #expect(email["status"] == .string("sent"))
            #expect(eml.contains("Message-ID: \(email["message_id"]!.stringValue!)\r\n"))
            #expect(eml.contains("To: grace@dvla.gov.uk\r\n"))
            #expect(eml.contains("Subject: Please approve the Renew your driving licence dashboard\r\n"))
            #expect(eml.contains("Auto-Submitted: auto-generated\r\n"))
            #expect(eml.contains("Content-Type: multipart/alternative;"))
            let text = decodedPart(eml, "text/plain")
            // The owner's own link: a 256-bit token whose hash names a sign-off link for them and this request.
            let token = text.components(separatedBy: "http://127.0.0.1:8080/sign-off/").dropFirst().first?.prefix { !$0.isWhitespace } ?? ""
            #expect(token.count == 43)
            let link = try await LinkStore.find(token: String(token), on: app.db, logger: TestDatabase.logger)
            #expect(link?.requestID.uuidString.lowercased() == id && link?.email == "grace@dvla.gov.uk" && link?.purpose == .signOff)
            #expect(decodedPart(eml, "text/html").contains("<strong>Renew your driving licence</strong>"))
            let events = try await app.call(.get, "/api/v1/requests/\(id)/events").json["items"]!.arrayValue!
            #expect(events.last?["kind"] == .string("email_sent"))
        }
    }

    @Test func temporaryFailuresBackOffThenDie() async throws {
        try await TestApp.run { app in
            try await app.requestAwaitingSignOff()
            try await app.db.query("UPDATE emails SET max_attempts = 3", logger: TestDatabase.logger)
            let t = RecordingTransport()
            t.failure.withLock { $0 = .temporary("451 try later") }
            let w = app.worker(t)
            #expect(try await w.runOnce() == 1)
            var e = try await app.emails()[0]
            #expect(e["status"] == .string("queued"))
            #expect(e["attempts"] == .number(1))
            // Full jitter with the random number pinned at 0.5: half of the 30 s ceiling.
            #expect(e["run_at"] == .string(Timestamp.rfc3339(app.clock.now().addingTimeInterval(15))))
            #expect(try await w.runOnce() == 0)  // not due yet
            app.clock.advance(by: 15)
            #expect(try await w.runOnce() == 1)
            e = try await app.emails()[0]
            #expect(e["run_at"] == .string(Timestamp.rfc3339(app.clock.now().addingTimeInterval(30))))  // ceiling 60 s
            app.clock.advance(by: 30)
            #expect(try await w.runOnce() == 1)
            e = try await app.emails()[0]
            #expect(e["status"] == .string("dead"))
            #expect(e["attempts"] == .number(3))
            #expect(e["last_error"] == .string("451 try later"))
            let detail = try await app.call(.get, "/api/v1/emails/\(e["id"]!.stringValue!)").json
            #expect(detail["attempt_history"]?.arrayValue?.map { $0["outcome"]!.stringValue! } == ["retry", "retry", "dead"])

            // Staff retry it; it goes out.
            t.failure.withLock { $0 = nil }
            let retried = try await app.call(.post, "/api/v1/emails/\(e["id"]!.stringValue!)/retry")
            #expect(retried.json["status"] == .string("queued"))
            #expect(try await w.runOnce() == 1)
            #expect(try await app.emails()[0]["status"] == .string("sent"))
            #expect(t.sent.withLock { $0.count } == 1)
        }
    }

    @Test func permanentFailureStopsAndSuppressesTheAddress() async throws {
        try await TestApp.run { app in
            let id = try await app.requestAwaitingSignOff()
            let t = RecordingTransport()
            t.failure.withLock { $0 = .permanent("550 no such mailbox", badAddress: true) }
            #expect(try await app.worker(t).runOnce() == 1)
            let e = try await app.emails()[0]
            #expect(e["status"] == .string("failed"))
            #expect(e["attempts"] == .number(1))
            let supp = try await app.call(.get, "/api/v1/suppressions").json["items"]!.arrayValue!
            #expect(supp.map { $0["address"]! } == [.string("grace@dvla.gov.uk")])
            // The next email to that address is suppressed at once, and its life is on the request.
            app.clock.advance(by: 60)
            let r = try await app.call(.get, "/api/v1/requests/\(id)")
            let back = try await app.call(
                .post, "/api/v1/requests/\(id)/transitions/request_changes", json: .object(["reason": .string("x"), "evidence": .string("call")]),
                headers: [.ifMatch: r.etag!])
            #expect(back.status == .ok)
            let again = try await app.call(.post, "/api/v1/requests/\(id)/transitions/request_sign_off", headers: [.ifMatch: back.etag!])
            #expect(again.status == .ok)
            let latest = try await app.emails("?recipient=grace@dvla.gov.uk")
            #expect(latest.first?["status"] == .string("suppressed"))
            let kinds = try await app.call(.get, "/api/v1/requests/\(id)/events?limit=200").json["items"]!.arrayValue!.map {
                $0["kind"]!.stringValue!
            }
            #expect(kinds.filter { $0.hasPrefix("email_") } == ["email_queued", "email_failed", "email_queued", "email_suppressed"])
            // Retrying an email to a suppressed address is refused until staff lift the suppression.
            #expect(try await app.call(.post, "/api/v1/emails/\(e["id"]!.stringValue!)/retry").status == .conflict)
            #expect(try await app.call(.delete, "/api/v1/suppressions/grace@dvla.gov.uk").status == .noContent)
            #expect(try await app.call(.post, "/api/v1/emails/\(e["id"]!.stringValue!)/retry").status == .ok)
        }
    }

    /// A worker presumed dead (lease expired) cannot overwrite the newer attempt.
    @Test func outcomesAreFencedByAttempt() async throws {
        try await TestApp.run { app in
            try await app.requestAwaitingSignOff()
            let first = try await EmailStore.claim(
                limit: 10, worker: "slow", leaseSeconds: 30, at: app.clock.now(), on: app.db, logger: TestDatabase.logger)
            #expect(first.count == 1)
            app.clock.advance(by: 31)
            #expect(try await EmailStore.reclaimExpired(at: app.clock.now(), on: app.db, logger: TestDatabase.logger) == 1)
            let t = RecordingTransport()
            #expect(try await app.worker(t, id: "fresh").runOnce() == 1)
            let late = try await EmailStore.finish(
                id: first[0].id, attempt: 1, outcome: .failed(error: "late", suppressAddress: true),
                at: app.clock.now(), on: app.db, logger: TestDatabase.logger)
            #expect(!late)
            let e = try await app.emails()[0]
            #expect(e["status"] == .string("sent"))
            #expect(e["attempts"] == .number(2))
            #expect(try await app.count("email_suppressions") == 0)
        }
    }

    @Test func manyWorkersSendEveryEmailExactlyOnce() async throws {
        try await TestApp.run { app in
            try await app.queueEmails(300)
            let t = RecordingTransport()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<4 {
                    group.addTask {
                        let worker = app.worker(t, id: "w\(w)")
                        while try await worker.runOnce() > 0 {}
                    }
                }
                try await group.waitForAll()
            }
            let ids = t.sent.withLock { $0.map(\.id) }
            #expect(ids.count == 300)
            #expect(Set(ids).count == 300)
            #expect(try await app.count("emails WHERE status = 'sent'") == 300)
            #expect(try await app.count("email_attempts") == 300)
        }
    }

    @Test func concurrentEnqueuesOfOneDedupKeyKeepOneRow() async throws {
        try await TestApp.run { app in
            let outbox = EmailOutbox(settings: EmailSettings(), templates: try EmailTemplates.bundled())
            let results = try await withThrowingTaskGroup(of: EmailStatus?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await app.db.transaction(logger: TestDatabase.logger) { conn in
                            try await outbox.queue(
                                .reminderDigest, to: "ada@dvla.gov.uk", requestID: nil,
                                context: ["service_name": "X"], dedupKey: "reminder:1:2026-11-25", at: app.clock.now(),
                                on: conn, logger: TestDatabase.logger)
                        }
                    }
                }
                return try await group.reduce(into: [EmailStatus?]()) { $0.append($1) }
            }
            #expect(results.compactMap { $0 }.count == 1)
            #expect(try await app.count("emails") == 1)
        }
    }

    @Test func theClaimQueryReadsThePartialIndex() async throws {
        try await TestApp.run { app in
            // Enough rows that a sequential scan would lose, then fresh statistics.
            try await app.db.query(
                """
                INSERT INTO emails (id, kind, recipient, subject, body_text, body_html, status, run_at, message_id, created_at, updated_at)
                SELECT gen_random_uuid(), 'live', 'x@example.gov.uk', 's', 't', 'h', CASE WHEN g % 50 = 0 THEN 'queued' ELSE 'sent' END,
                       now(), '<' || g || '@t>', now(), now() FROM generate_series(1, 20000) g
                """, logger: TestDatabase.logger)
            try await app.db.query("ANALYZE emails", logger: TestDatabase.logger)
            let rows = try await app.db.query(
                """
                EXPLAIN SELECT id FROM emails WHERE status = 'queued' AND run_at <= now() ORDER BY run_at LIMIT 32 FOR UPDATE SKIP LOCKED
                """, logger: TestDatabase.logger
            ).collect()
            let plan = try rows.map { try $0.decode(String.self) }.joined(separator: "\n")
            #expect(plan.contains("emails_claim_idx"), "\(plan)")
        }
    }

    @Test func staffCancelQueuedEmails() async throws {
        try await TestApp.run { app in
            try await app.requestAwaitingSignOff()
            let e = try await app.emails()[0]
            let viewer = try await app.token(role: .viewer)
            #expect(try await app.call(.post, "/api/v1/emails/\(e["id"]!.stringValue!)/cancel", token: viewer).status == .forbidden)
            let c = try await app.call(.post, "/api/v1/emails/\(e["id"]!.stringValue!)/cancel")
            #expect(c.json["status"] == .string("cancelled"))
            #expect(try await app.call(.post, "/api/v1/emails/\(e["id"]!.stringValue!)/cancel").status == .conflict)
            #expect(try await app.worker(RecordingTransport()).runOnce() == 0)
            #expect(try await app.call(.get, "/api/v1/emails?status=bogus").status == .unprocessableContent)
            #expect(try await app.emails("?status=cancelled").count == 1)
        }
    }

    @Test func everyTemplateRendersAndEscapesHTML() throws {
        let t = try EmailTemplates.bundled()
        for kind in EmailKind.allCases {
            let r = t.render(
                kind,
                [
                    "service_name": "Tax <script>", "department": "HMRC", "link": "https://cb.gov.uk/r/1",
                    "reason": "Wrong & late", "preview_url": "https://p.gov.uk", "live_url": "https://l.gov.uk",
                    "approved": true, "missing_items": [["title": "Service contact"]],
                    // The reminder digest: one section per reminder.
                    "single": true, "count": 1, "headline": "Tax <script>: the preview is due",
                    "items": [
                        [
                            "headline": "Tax <script>: the preview is due", "lines": ["State: Built"], "has_lines": true,
                            "action": "Open the request", "link": "https://cb.gov.uk/r/1",
                        ]
                    ],
                ])
            #expect(!r.html.contains("<script>"), "\(kind)")
            // Every request email names the service (the staff sign-in email is about no request).
            if kind != .staffSignIn {
                #expect(r.subject.contains("Tax <script>"), "\(kind)")
                #expect(r.html.contains("Tax &lt;script&gt;"), "\(kind)")
            }
            #expect(!r.text.contains("&lt;"), "\(kind)")
            // The withdrawal and the sign-off owner's early heads-up (no decision link yet) link nowhere.
            if kind != .withdrawn, kind != .signOffHeadsUp {
                #expect(
                    r.text.contains("https://cb.gov.uk/r/1") || r.text.contains("https://p.gov.uk") || r.text.contains("https://l.gov.uk"), "\(kind)")
            }
        }
    }
}

/// The decoded body of one MIME part.
func decodedPart(_ eml: String, _ type: String) -> String {
    guard let start = eml.range(of: "Content-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n") else { return "" }
    let rest = eml[start.upperBound...]
    let b64 = rest.prefix { $0 != "-" }.replacingOccurrences(of: "\r\n", with: "")
    return String(decoding: Data(base64Encoded: b64) ?? Data(), as: UTF8.self)
}
