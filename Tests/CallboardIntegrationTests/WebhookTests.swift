import CallboardDomain
import Foundation
import HTTPTypes
import Logging
import PostgresNIO
import Testing

@testable import CallboardServices
@testable import CallboardStorage

extension TestApp {
    /// A webhook worker on the test clock, with jitter pinned at 0.5 (the first retry is 15 s later).
    func webhookWorker(allowPrivate: Bool = true, key: SecretKey = TestApp.secretKey, id: String = "hw1", logger: Logger = TestDatabase.logger)
        -> WebhookWorker
    {
        var s = WebhookSettings(secretKey: key, allowHTTP: true, allowPrivate: allowPrivate)
        s.workerID = id
        s.timeoutSeconds = 5
        return WebhookWorker(db: db, listenURL: nil, settings: s, key: key, time: clock, logger: logger, random: { 0.5 })
    }

    /// Creates a webhook through the API; its id and its secret.
    func createWebhook(_ url: String, _ types: [String], receiver: WebhookReceiver? = nil) async throws -> (id: String, secret: String) {
        let r = try await call(.post, "/api/v1/webhooks", json: .object(["url": .string(url), "event_types": .array(types.map(JSONValue.string))]))
        #expect(r.status == .created, "\(r.text)")
        let secret = r.json["secret"]?.stringValue ?? ""
        receiver?.secrets.withLock { $0.append(secret) }
        return (r.json["id"]?.stringValue ?? "", secret)
    }

    func deliveries(_ hook: String) async throws -> [JSONValue] {
        try await call(.get, "/api/v1/webhooks/\(hook)/deliveries").json["items"]?.arrayValue ?? []
    }
}

@Suite struct WebhookTests {
    static let logger = TestDatabase.logger
    static let start = Timestamp.rfc3339(TestClock().now())

    @Test func everyDeliveryIsSignedRetriedAfter500AndStopsAfter410() async throws {
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await TestApp.run { app in
                let created = try await app.call(
                    .post, "/api/v1/webhooks",
                    json: .object([
                        "url": .string(url), "event_types": .array([.string("request.transitioned"), .string("request.created")]),
                        "description": .string("Team dashboard"),
                    ]))
                #expect(created.status == .created)
                #expect(created.headers[.cacheControl] == "no-store")
                let hook = try #require(created.json["id"]?.stringValue)
                #expect(created.headers[.location] == "/api/v1/webhooks/\(hook)")
                let secret = try #require(created.json["secret"]?.stringValue)
                #expect(secret.hasPrefix("whsec_") && Data(base64Encoded: String(secret.dropFirst(6)))?.count == 32)
                #expect(created.json["event_types"] == .array([.string("request.created"), .string("request.transitioned")]))
                #expect(created.json["enabled"] == .bool(true) && created.json["description"] == .string("Team dashboard"))
                receiver.secrets.withLock { $0 = [secret] }
                // Each delivery's first attempt is answered 500, the next ones 200.
                receiver.answers.withLock { $0 = [0: 500] }

                let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
                let id = try #require(r.json["id"]?.stringValue)
                let ref = try #require(r.json["reference"]?.stringValue)
                let worker = app.webhookWorker()
                #expect(try await worker.runOnce() == 2)
                #expect(receiver.received.count == 2)
                var items = try await app.deliveries(hook)
                #expect(items.map { $0["status"] } == [.string("queued"), .string("queued")])
                #expect(items.map { $0["last_status_code"] } == [.number(500), .number(500)])
                #expect(items.map { $0["last_error"] } == [.string("the receiver answered 500"), .string("the receiver answered 500")])
                let retryAt = Timestamp.rfc3339(app.clock.now().addingTimeInterval(15))
                #expect(items.map { $0["next_attempt_at"] } == [.string(retryAt), .string(retryAt)])
                // Backoff follows the clock, not the wall: nothing is due until it moves.
                #expect(try await worker.runOnce() == 0)
                app.clock.advance(by: 15)
                #expect(try await worker.runOnce() == 2)

                let hits = receiver.received
                #expect(hits.count == 4)
                #expect(hits.allSatisfy { $0.verified })
                #expect(hits.allSatisfy { $0.contentType == "application/json" })
                let t0 = String(Int64(TestClock().now().timeIntervalSince1970))
                let t1 = String(Int64(TestClock().now().timeIntervalSince1970) + 15)
                #expect(hits.map(\.timestamp) == [t0, t0, t1, t1])
                // The retry carries the same webhook-id and the same body.
                #expect(Set(hits.prefix(2).map(\.id)) == Set(hits.suffix(2).map(\.id)))
                #expect(Set(hits.prefix(2).map(\.body)) == Set(hits.suffix(2).map(\.body)))
                let bodies = Set(hits.map(\.body))
                #expect(
                    bodies == [
                        #"{"data":{"reference":"\#(ref)","request_id":"\#(id)","state":"requested","version":1},"timestamp":"\#(Self.start)","type":"request.created"}"#,
                        #"{"data":{"from_state":"requested","reference":"\#(ref)","request_id":"\#(id)","state":"info_complete","transition":"complete_information","version":2},"timestamp":"\#(Self.start)","type":"request.transitioned"}"#,
                    ])
                // No personal data: none of the request's names, addresses, phones or service text.
                for word in ["Ada", "ada@", "Grace", "grace@", "020 7946", "Renew", "Sam", "DVLA", "piwik"] {
                    #expect(!bodies.contains { $0.contains(word) }, "\(word) in a payload")
                }
                items = try await app.deliveries(hook)
                #expect(items.map { $0["status"] } == [.string("delivered"), .string("delivered")])
                let log = items[0]["attempt_log"]?.arrayValue ?? []
                #expect(log.map { $0["outcome"] } == [.string("retry"), .string("delivered")])
                #expect(log.map { $0["status_code"] } == [.number(500), .number(200)])
                #expect(log.allSatisfy { $0["worker"] == .string("hw1") && $0["duration_ms"] != .null })

                // 410 Gone: the subscription is disabled and nothing more is sent or queued.
                receiver.answers.withLock { $0 = [:] }
                receiver.otherwise.withLock { $0 = 410 }
                try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
                #expect(try await worker.runOnce() == 2)
                #expect(receiver.received.count == 6)
                let gone = try await app.call(.get, "/api/v1/webhooks/\(hook)")
                #expect(gone.json["enabled"] == .bool(false))
                #expect(gone.json["disabled_reason"]?.stringValue?.hasPrefix("the receiver answered 410 Gone to delivery ") == true)
                try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
                #expect(try await app.count("webhook_deliveries") == 4)
                app.clock.advance(by: 7200)
                #expect(try await worker.runOnce() == 0)
                #expect(receiver.received.count == 6)
                items = try await app.deliveries(hook)
                #expect(items.map { $0["status"] } == [.string("failed"), .string("failed"), .string("delivered"), .string("delivered")])
                #expect(items[0]["attempt_log"]?.arrayValue?.map { $0["outcome"] } == [.string("gone")])

                // Enabled again, a replay goes out with the same webhook-id and a fresh budget.
                receiver.otherwise.withLock { $0 = 200 }
                let enabled = try await app.call(.patch, "/api/v1/webhooks/\(hook)", json: .object(["enabled": .bool(true)]))
                #expect(enabled.json["enabled"] == .bool(true) && enabled.json["disabled_reason"] == .null)
                let failed = try #require(items[0]["id"]?.stringValue)
                let replay = try await app.call(.post, "/api/v1/webhooks/\(hook)/deliveries/\(failed)/replay")
                #expect(replay.status == .accepted)
                #expect(replay.json["status"] == .string("queued") && replay.json["max_attempts"] == .number(9))
                let twice = try await app.call(.post, "/api/v1/webhooks/\(hook)/deliveries/\(failed)/replay")
                #expect(twice.status == .conflict && twice.problemType == "conflict")
                #expect(try await app.call(.post, "/api/v1/webhooks/\(hook)/deliveries/\(UUID())/replay").status == .notFound)
                #expect(try await worker.runOnce() == 1)
                #expect(receiver.received.last?.id == failed && receiver.received.last?.verified == true)
            }
        }
    }

    @Test func onlyHTTPSAndPublicTargetsAreAcceptedAndBadInputIs422() async throws {
        try await TestApp.run(webhooks: WebhookSettings(secretKey: TestApp.secretKey)) { app in
            func post(_ body: JSONValue) async throws -> TestResponse { try await app.call(.post, "/api/v1/webhooks", json: body) }
            let types: JSONValue = .array([.string("request.created")])
            for url in [
                "http://example.com/x", "ftp://example.com/x", "https://10.1.2.3/x", "https://[::1]/x", "https://localhost/x",
                "https://169.254.169.254/latest", "https://[::ffff:127.0.0.1]/x", "https://user:pw@example.com/x", "example.com/x",
            ] {
                let r = try await post(.object(["url": .string(url), "event_types": types]))
                #expect(r.status == .unprocessableContent, "\(url)")
                #expect(r.headers[.contentType] == "application/problem+json")
                #expect(r.pointers == ["/url"], "\(url)")
            }
            let http = try await post(.object(["url": .string("http://example.com/x"), "event_types": types]))
            #expect(
                http.json["errors"]?.arrayValue?.first?["message"]
                    == .string("must be an https URL (http is only accepted with CALLBOARD_WEBHOOKS_ALLOW_HTTP=true)"))
            let loop = try await post(.object(["url": .string("https://127.0.0.1/x"), "event_types": types]))
            #expect(
                loop.json["errors"]?.arrayValue?.first?["message"]
                    == .string("must not point at a private, loopback or link-local address (127.0.0.1 is loopback (127.0.0.0/8))"))
            let badTypes = try await post(
                .object(["url": .string("https://example.com/x"), "event_types": .array([.string("request.deleted"), .number(3)])]))
            #expect(badTypes.status == .unprocessableContent && badTypes.pointers == ["/event_types/0", "/event_types/1"])
            #expect(try await post(.object(["url": .string("https://example.com/x"), "event_types": .array([])])).pointers == ["/event_types"])
            #expect(try await post(.object([:])).pointers == ["/url", "/event_types"])
            let extra = try await post(.object(["url": .string("https://example.com/x"), "event_types": types, "secret": .string("whsec_mine")]))
            #expect(extra.status == .unprocessableContent && extra.pointers == ["/secret"])
            #expect(try await app.call(.post, "/api/v1/webhooks", raw: "[1]").status == .unprocessableContent)
            #expect(try await app.call(.post, "/api/v1/webhooks", raw: "{").status == .badRequest)
            #expect(
                try await app.call(.patch, "/api/v1/webhooks/\(UUID())", json: .object(["enabled": .string("yes")])).status == .unprocessableContent)
            #expect(try await app.call(.get, "/api/v1/webhooks/not-an-id").status == .notFound)
            #expect(try await app.count("webhook_subscriptions") == 0)
            // A public name is accepted: it is resolved, and checked, when each delivery is sent.
            let ok = try await post(.object(["url": .string("https://example.com/x"), "event_types": types]))
            #expect(ok.status == .created)
            let hook = ok.json["id"]!.stringValue!
            let patched = try await app.call(.patch, "/api/v1/webhooks/\(hook)", json: .object(["url": .string("http://example.com/y")]))
            #expect(patched.status == .unprocessableContent && patched.pointers == ["/url"])
            #expect(try await app.call(.delete, "/api/v1/webhooks/\(hook)").status == .noContent)
            #expect(try await app.call(.delete, "/api/v1/webhooks/\(hook)").status == .notFound)
        }
    }

    @Test func privateAddressesAreRefusedAtSendTimeAfterResolving() async throws {
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await TestApp.run { app in
                let port = try #require(URL(string: url)?.port)
                let literal = try await app.createWebhook(url, ["request.created"], receiver: receiver)
                let named = try await app.createWebhook("http://localhost:\(port)/hook", ["request.created"], receiver: receiver)
                try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
                #expect(try await app.webhookWorker(allowPrivate: false).runOnce() == 2)
                #expect(receiver.received.isEmpty)
                let a = try await app.deliveries(literal.id)[0]
                #expect(a["status"] == .string("queued") && a["attempts"] == .number(1))
                #expect(
                    a["last_error"]
                        == .string("refused: 127.0.0.1 resolves to 127.0.0.1, which is loopback (127.0.0.0/8); webhooks go only to public addresses"))
                let b = try await app.deliveries(named.id)[0]
                let error = b["last_error"]?.stringValue ?? ""
                #expect(error.hasPrefix("refused: localhost resolves to ") && (error.contains("loopback")), "\(error)")
                let attempt = b["attempt_log"]?.arrayValue?.first
                #expect(attempt?["outcome"] == .string("retry") && attempt?["status_code"] == .null)
                // A refusal is an attempt like any other: retried, and sent once allowed.
                app.clock.advance(by: 15)
                #expect(try await app.webhookWorker(allowPrivate: true).runOnce() == 2)
                #expect(receiver.received.count == 2 && receiver.received.allSatisfy { $0.verified })
            }
        }
    }

    @Test func withoutASecretKeyCreatingAWebhookIs409NamingTheSetting() async throws {
        try await TestApp.run(webhooks: WebhookSettings()) { app in
            let r = try await app.call(
                .post, "/api/v1/webhooks", json: .object(["url": .string("https://example.com/x"), "event_types": .array([.string("email.dead")])]))
            #expect(r.status == .conflict)
            #expect(r.problemType == "conflict")
            #expect(
                r.json["detail"]
                    == .string("webhooks need a secret key to seal their signing secrets: set CALLBOARD_SECRET_KEY_FILE (see docs/security.md)"))
            #expect(try await app.count("webhook_subscriptions") == 0)
        }
    }

    @Test func onlyAdminsMayManageWebhooks() async throws {
        try await TestApp.run { app in
            let hook = try await app.createWebhook("https://example.com/x", ["request.created"])
            let d = UUID()
            let routes: [(HTTPRequest.Method, String, JSONValue?)] = [
                (.get, "/api/v1/webhooks", nil),
                (.post, "/api/v1/webhooks", .object(["url": .string("https://example.com/y"), "event_types": .array([.string("request.created")])])),
                (.get, "/api/v1/webhooks/\(hook.id)", nil), (.patch, "/api/v1/webhooks/\(hook.id)", .object(["enabled": .bool(false)])),
                (.delete, "/api/v1/webhooks/\(hook.id)", nil), (.get, "/api/v1/webhooks/\(hook.id)/deliveries", nil),
                (.post, "/api/v1/webhooks/\(hook.id)/deliveries/\(d)/replay", nil),
            ]
            for role in [StaffRole.viewer, .triager] {
                let token = try await app.token(role: role)
                for (method, path, body) in routes {
                    let r = try await app.call(method, path, token: token, json: body)
                    #expect(r.status == .forbidden, "\(role) \(method) \(path)")
                    #expect(r.problemType == "forbidden")
                }
            }
            for (method, path, body) in routes {
                #expect(try await app.call(method, path, token: "", json: body).status == .unauthorized)
            }
            #expect(try await app.count("webhook_subscriptions") == 1)
            #expect(try await app.call(.get, "/api/v1/webhooks/\(hook.id)").json["enabled"] == .bool(true))
        }
    }

    @Test func theSecretIsNeverStoredInClearLoggedOrShownAgain() async throws {
        let log = CapturedLog()
        let logger = {
            var l = log.logger
            l.logLevel = .trace
            return l
        }()
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await TestApp.run(logger: logger) { app in
                let body: JSONValue = .object(["url": .string(url), "event_types": .array([.string("request.created")])])
                let first = try await app.call(.post, "/api/v1/webhooks", json: body, headers: [HTTPField.Name("Idempotency-Key")!: "k1"])
                let secret = try #require(first.json["secret"]?.stringValue)
                receiver.secrets.withLock { $0 = [secret] }
                let keyPart = String(secret.dropFirst(6))
                let hook = try #require(first.json["id"]?.stringValue)
                // A retry with the same Idempotency-Key gets the answer back without the secret.
                let again = try await app.call(.post, "/api/v1/webhooks", json: body, headers: [HTTPField.Name("Idempotency-Key")!: "k1"])
                #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
                #expect(again.json["id"] == .string(hook) && again.json["secret"] == .null)

                try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
                #expect(try await app.webhookWorker(logger: logger).runOnce() == 1)
                #expect(receiver.received.count == 1 && receiver.received[0].verified)

                // Not in any table, in any form; what is stored opens to it with the key.
                let stored = try await LinkSecretTests.dump(app.db)
                let keyHex = Data(base64Encoded: keyPart)!.map { String(format: "%02x", $0) }.joined()
                let secretHex = Data(secret.utf8).map { String(format: "%02x", $0) }.joined()
                for form in [secret, keyPart, keyHex, secretHex] { #expect(!stored.contains(form)) }
                let row = try await app.db.query(
                    "SELECT secret_ciphertext, secret_key_id FROM webhook_subscriptions", logger: Self.logger
                ).collect()[0].decode((ByteBuffer, String).self)
                #expect(row.1 == TestApp.secretKey.id)
                #expect(
                    try TestApp.secretKey.open(SealedSecret(ciphertext: Array(buffer: row.0), keyID: row.1), context: UUID(uuidString: hook)!)
                        == secret)

                // Not in the log, at trace level (which logs every statement).
                let lines = log.lines.withLock { $0 }
                #expect(lines.count >= 10)
                let text = lines.map { $0.message + " " + $0.metadata.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }.joined(separator: "\n")
                #expect(!text.contains(secret) && !text.contains(keyPart))

                // Never returned again.
                for path in ["/api/v1/webhooks", "/api/v1/webhooks/\(hook)", "/api/v1/webhooks/\(hook)/deliveries"] {
                    let r = try await app.call(.get, path)
                    #expect(r.status == .ok)
                    #expect(!r.text.contains(secret) && !r.text.contains(keyPart) && !r.text.contains("\"secret\""), "\(path)")
                }
                let patched = try await app.call(.patch, "/api/v1/webhooks/\(hook)", json: .object(["description": .string("x")]))
                #expect(!patched.text.contains(keyPart) && patched.json["secret"] == nil)
                let cookie = try await HistoryPagingTests.adminSession(app)
                for path in ["/staff/admin/webhooks", "/staff/admin/webhooks/\(hook)"] {
                    let page = try await app.call(.get, path, token: "", headers: [.cookie: "cb_session=\(cookie)"])
                    #expect(page.status == .ok && !page.text.contains(keyPart), "\(path)")
                }
            }
        }
    }

    @Test func eachEventIsQueuedInTheTransactionOfItsChange() async throws {
        try await TestApp.run { app in
            let hook = try await app.createWebhook(
                "https://example.com/x", ["request.updated", "email.dead", "upload.received", "request.transitioned"])
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = r.json["id"]!.stringValue!
            let ref = r.json["reference"]!.stringValue!
            // request.created is not subscribed to: only the transition is queued.
            #expect(try await app.count("webhook_deliveries") == 1)
            let patched = try await app.call(
                .patch, "/api/v1/requests/\(id)", json: .object(["notes": .string("Call Ada on 020 7946 0000")]), headers: [.ifMatch: r.etag!])
            #expect(patched.status == .ok)
            // A stale write changes nothing and queues nothing.
            let stale = try await app.call(.patch, "/api/v1/requests/\(id)", json: .object(["notes": .string("x")]), headers: [.ifMatch: r.etag!])
            #expect(stale.status == .preconditionFailed)
            let ds = try await app.call(.post, "/api/v1/requests/\(id)/data-sets", json: DataSetAPITests.monthly)
            let dsID = ds.json["id"]!.stringValue!
            #expect(try await app.call(.post, "/api/v1/data-sets/\(dsID)/uploads", json: .object([:])).status == .created)
            // An email out of attempts.
            let email = try await app.db.query("SELECT id FROM emails LIMIT 1", logger: Self.logger).collect()[0].decode(UUID.self)
            let claimed = try await EmailStore.claim(limit: 100, worker: "w", leaseSeconds: 30, at: app.clock.now(), on: app.db, logger: Self.logger)
            let e = try #require(claimed.first { $0.id == email })
            #expect(
                try await EmailStore.finish(
                    id: e.id, attempt: e.attempts, outcome: .dead(error: "550 no"), at: app.clock.now(), on: app.db, logger: Self.logger))

            let items = try await app.deliveries(hook.id).map { $0["payload"]! }
            func payload(_ type: String) -> JSONValue? { items.first { $0["type"] == .string(type) }?["data"] }
            #expect(
                Set(items.compactMap { $0["type"]?.stringValue }) == ["request.transitioned", "request.updated", "upload.received", "email.dead"])
            #expect(items.count == 4)
            #expect(items.allSatisfy { $0["timestamp"] == .string(Self.start) })
            #expect(
                payload("request.updated")
                    == .object([
                        "request_id": .string(id), "reference": .string(ref), "state": .string("info_complete"), "version": .number(3),
                        "fields": .array([.string("notes")]),
                    ]))
            let upload = payload("upload.received")
            #expect(upload?["data_set_id"] == .string(dsID) && upload?["source"] == .string("staff") && upload?["request_id"] == .string(id))
            #expect(upload?["period_start"]?.stringValue != nil && upload?["period_end"]?.stringValue != nil && upload?["version"] == .number(3))
            #expect(
                payload("email.dead")
                    == .object([
                        "email_id": .string(email.lowercasedString), "email_kind": .string(e.kind), "request_id": .string(id), "attempts": .number(1),
                    ]))
            let all = items.map { $0.serializedString }.joined()
            for word in ["Ada", "020 7946", "550 no", "@"] { #expect(!all.contains(word), "\(word)") }
        }
    }

    @Test func aBrokenPreviewPromiseIsOneEventFromTheScheduler() async throws {
        try await TestApp.run { app in
            let hook = try await app.createWebhook("https://example.com/x", ["promise.breached"])
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = try #require(r.json["id"]?.stringValue)
            let due = try #require(r.json["sla"]?["due_at"])
            #expect(try await app.scheduler().tick().remindersQueued == 0)
            #expect(try await app.deliveries(hook.id).isEmpty)
            // Wednesday 2 December, 10:00: past the promise, inside the sending window.
            app.setClock("2026-12-02T10:00:00Z")
            #expect(try await app.scheduler().tick().remindersQueued == 1)
            #expect(try await app.scheduler().tick().remindersQueued == 0)
            let items = try await app.deliveries(hook.id)
            #expect(items.count == 1)
            #expect(
                items.first?["payload"]
                    == .object([
                        "type": .string("promise.breached"), "timestamp": .string(Timestamp.rfc3339(app.clock.now())),
                        "data": .object([
                            "request_id": .string(id), "reference": r.json["reference"]!, "state": .string("info_complete"), "version": .number(2),
                            "due_at": due,
                        ]),
                    ]))
        }
    }

    @Test func rotatingTheKeyResealsEverySecretInOneGo() async throws {
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await TestApp.run { app in
                _ = try await app.createWebhook(url, ["request.created"], receiver: receiver)
                _ = try await app.createWebhook(url, ["request.created"], receiver: receiver)
                let newKey = try SecretKey(base64: Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString())
                // The wrong old key changes nothing.
                let other = try SecretKey(base64: Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString())
                await #expect(throws: SecretKey.Invalid.self) {
                    try await SecretKeyRotation.rotate(from: other, to: newKey, on: app.db, logger: Self.logger)
                }
                #expect(
                    try await app.db.query(
                        "SELECT count(*) FROM webhook_subscriptions WHERE secret_key_id = \(TestApp.secretKey.id)", logger: Self.logger
                    ).collect()[0].decode(Int64.self) == 2)
                let report = try await SecretKeyRotation.rotate(from: TestApp.secretKey, to: newKey, on: app.db, logger: Self.logger)
                #expect(report == .init(resealed: 2, alreadyNew: 0))
                #expect(
                    try await SecretKeyRotation.rotate(from: TestApp.secretKey, to: newKey, on: app.db, logger: Self.logger)
                        == .init(resealed: 0, alreadyNew: 2))
                try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
                // A worker still on the old key cannot sign, and says why.
                #expect(try await app.webhookWorker(key: TestApp.secretKey).runOnce() == 2)
                #expect(receiver.received.isEmpty)
                let error = try await app.db.query("SELECT DISTINCT last_error FROM webhook_deliveries", logger: Self.logger).collect()
                    .map { try $0.decode(String.self) }
                #expect(
                    error == [
                        "cannot sign: the secret was sealed with key \(newKey.id), not with the configured key \(TestApp.secretKey.id) "
                            + "(run `callboard admin rotate-secret-key`; see docs/security.md)"
                    ])
                app.clock.advance(by: 15)
                #expect(try await app.webhookWorker(key: newKey).runOnce() == 2)
                #expect(receiver.received.count == 2 && receiver.received.allSatisfy { $0.verified })
            }
        }
    }

    @Test func theStaffPagesListCreateShowDisableAndReplay() async throws {
        try await TestApp.run { app in
            let cookie = try await HistoryPagingTests.adminSession(app)
            func get(_ path: String) async throws -> TestResponse {
                try await app.call(.get, path, token: "", headers: [.cookie: "cb_session=\(cookie)"])
            }
            func post(_ path: String, _ form: String) async throws -> TestResponse {
                try await app.call(
                    .post, path, token: "", raw: "csrf=csrf" + (form.isEmpty ? "" : "&" + form), headers: [.cookie: "cb_session=\(cookie)"],
                    contentType: "application/x-www-form-urlencoded")
            }
            let list = try await get("/staff/admin/webhooks")
            #expect(list.status == .ok && list.text.contains("No webhooks yet.") && list.text.contains("href=\"/staff/admin/webhooks\">Webhooks</a>"))
            let bad = try await post("/staff/admin/webhooks", "url=http%3A%2F%2F10.0.0.1%2Fx")
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains("Choose at least one event"))
            let made = try await post(
                "/staff/admin/webhooks", "url=https%3A%2F%2Fexample.com%2Fhook&description=Ops&event_request_created=yes&event_email_dead=yes")
            #expect(made.status == .ok)
            let secret = try #require(made.text.firstMatch(of: #/value="(whsec_[A-Za-z0-9+/=]+)"/#)).output.1
            #expect(secret.count == 50)
            let hook = try #require(try await app.call(.get, "/api/v1/webhooks").json["items"]?.arrayValue?.first?["id"]?.stringValue)
            #expect(
                try await app.call(.get, "/api/v1/webhooks/\(hook)").json["event_types"]
                    == .array([.string("email.dead"), .string("request.created")]))
            #expect(try await get("/staff/admin/webhooks").text.contains("https://example.com/hook"))
            let disabled = try await post("/staff/admin/webhooks/\(hook)/disable", "")
            #expect(disabled.status == .seeOther && disabled.headers[.location] == "/staff/admin/webhooks/\(hook)?notice=disabled")
            let page = try await get("/staff/admin/webhooks/\(hook)")
            #expect(page.text.contains("Disabled") && page.text.contains("disabled by admin@callboard.test"))
            #expect(try await post("/staff/admin/webhooks/\(hook)/enable", "").status == .seeOther)
            #expect(try await app.call(.get, "/api/v1/webhooks/\(hook)").json["enabled"] == .bool(true))
            // A delivery shows on the webhook's page.
            try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let shown = try await get("/staff/admin/webhooks/\(hook)")
            #expect(shown.text.contains("<code>request.created</code>") && shown.text.contains("Queued: 1"))
            // Other roles get the 403 page.
            let viewer = try await app.staff.createStaff(email: "viewer@callboard.test", name: "", role: .viewer)
            let session = NewLink.random()
            try await app.db.query(
                """
                INSERT INTO staff_sessions (token_hash, staff_id, csrf, created_at, expires_at)
                VALUES (\(LinkStore.hash(session)), \(viewer.id), 'csrf', \(app.clock.now()), \(app.clock.now().addingTimeInterval(3600)))
                """, logger: Self.logger)
            #expect(try await app.call(.get, "/staff/admin/webhooks", token: "", headers: [.cookie: "cb_session=\(session)"]).status == .forbidden)
            let refused = try await app.call(
                .post, "/staff/admin/webhooks/\(hook)/delete", token: "", raw: "csrf=csrf", headers: [.cookie: "cb_session=\(session)"],
                contentType: "application/x-www-form-urlencoded")
            #expect(refused.status == .forbidden)
            #expect(try await get("/staff").text.contains("<a href=\"/staff/admin/webhooks\">Webhooks</a>"))
            let deleted = try await post("/staff/admin/webhooks/\(hook)/delete", "")
            #expect(deleted.status == .seeOther && deleted.headers[.location] == "/staff/admin/webhooks?notice=deleted")
            #expect(try await app.count("webhook_subscriptions") == 0)
        }
    }

    @Test func aWorkerKilledMidDeliveryLosesNothing() async throws {
        let receiver = WebhookReceiver()
        receiver.holding.withLock { $0 = true }
        try await receiver.run { url in
            try await TestDatabase.with { db, dbURL in
                let service = WebhookService(db: db, time: SystemTime(), logger: Self.logger, settings: TestApp.webhookSettings)
                let (sub, secret) = try await service.create(
                    .object(["url": .string(url), "event_types": .array([.string("request.created")])]),
                    by: Principal(actor: .admin, email: "admin@callboard.test"))
                receiver.secrets.withLock { $0 = [secret] }
                let data: JSONValue = .object(["request_id": .string(UUID().lowercasedString), "state": .string("requested")])
                let queued = try await db.transaction(logger: Self.logger) { conn in
                    try await WebhookStore.enqueue(WebhookEvent(type: .requestCreated, data: data, at: Date()), on: conn, logger: Self.logger)
                }
                #expect(queued == 1)
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cb-wh-\(UUID().uuidString.prefix(8))")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: dir) }
                let keyFile = dir.appendingPathComponent("secret.key")
                try (TestApp.secretKeyBase64 + "\n").write(to: keyFile, atomically: true, encoding: .utf8)

                let worker = Process()
                worker.executableURL = URL(fileURLWithPath: WorkerProcessTests.binary)
                worker.arguments = ["worker", "--without-scheduler"]
                var env = ProcessInfo.processInfo.environment
                env["DATABASE_URL"] = "postgres://\(dbURL.username)@\(dbURL.host):\(dbURL.port)/\(dbURL.database)"
                env["CALLBOARD_SECRET_KEY_FILE"] = keyFile.path
                env["CALLBOARD_WEBHOOKS_ALLOW_HTTP"] = "true"
                env["CALLBOARD_WEBHOOKS_ALLOW_PRIVATE"] = "true"
                env["CALLBOARD_EMAIL_DIR"] = dir.path
                env["CALLBOARD_LOG_LEVEL"] = "error"
                worker.environment = env
                try worker.run()
                // Wait (bounded) until the receiver holds the POST: sent, not answered.
                for _ in 0..<1500 where receiver.received.isEmpty { try await Task.sleep(nanoseconds: 20_000_000) }
                #expect(receiver.received.count == 1, "the worker never sent the delivery")
                kill(worker.processIdentifier, SIGKILL)
                worker.waitUntilExit()
                #expect(worker.terminationReason == .uncaughtSignal)

                let row = try await db.query("SELECT id, status, attempts FROM webhook_deliveries", logger: Self.logger).collect()[0]
                    .decode((UUID, String, Int).self)
                #expect(row.1 == "sending" && row.2 == 1)
                // The dead worker's lease runs out (moved, not waited for), and another worker sends it again.
                try await db.query("UPDATE webhook_deliveries SET lease_until = now() - interval '1 second'", logger: Self.logger)
                receiver.holding.withLock { $0 = false }
                var settings = TestApp.webhookSettings
                settings.workerID = "rescuer"
                let rescuer = WebhookWorker(db: db, listenURL: nil, settings: settings, key: TestApp.secretKey, logger: Self.logger)
                #expect(try await WebhookStore.reclaimExpired(at: Date(), on: db, logger: Self.logger) == 1)
                #expect(try await rescuer.runOnce() == 1)
                let after = try await db.query("SELECT status, attempts FROM webhook_deliveries", logger: Self.logger).collect()[0]
                    .decode((String, Int).self)
                #expect(after.0 == "delivered" && after.1 == 2)
                // At least once, with the same webhook-id both times, each signed.
                let hits = receiver.received
                #expect(hits.count == 2 && hits.allSatisfy { $0.verified })
                #expect(hits.map(\.id) == [row.0.lowercasedString, row.0.lowercasedString])
                #expect(Set(hits.map(\.body)).count == 1)
                let outcomes = try await db.query("SELECT outcome FROM webhook_attempts ORDER BY attempt", logger: Self.logger).collect()
                    .map { try $0.decode(String.self) }
                #expect(outcomes == ["lease_expired", "delivered"])
                _ = sub
            }
        }
    }
}
