import CallboardDomain
import CallboardStorage
import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@Suite struct AuthTests {
    @Test func missingOrUnknownTokensAre401() async throws {
        try await TestApp.run { app in
            #expect(try await app.call(.get, "/api/v1/requests", token: "").status == .unauthorized)
            #expect(try await app.call(.get, "/api/v1/requests", token: "", headers: [.authorization: "Basic YTpi"]).status == .unauthorized)
            let wrong = try await app.call(.get, "/api/v1/requests", token: "cb_not-a-real-token")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.headers[.wwwAuthenticate] == "Bearer realm=\"callboard\"")
            #expect(wrong.headers[.contentType] == "application/problem+json")
        }
    }

    @Test func tokensExpireAndCanBeRevoked() async throws {
        try await TestApp.run { app in
            let staff = try await app.call(
                .post, "/api/v1/staff", json: .object(["email": .string("tri@callboard.test"), "role": .string("triager")]))
            #expect(staff.status == .created)
            let created = try await app.call(
                .post, "/api/v1/tokens", json: .object(["email": .string("tri@callboard.test"), "expires_in_days": .number(1)]))
            #expect(created.status == .created)
            #expect(created.headers[.cacheControl] == "no-store")
            let token = try #require(created.json["token"]?.stringValue)
            #expect(token.hasPrefix("cb_") && token.count >= 46)  // 32 random bytes, base64url
            #expect(try await app.call(.get, "/api/v1/requests", token: token).status == .ok)

            // Only a hash is stored.
            let stored = try await app.db.query(
                "SELECT count(*)::int8 FROM api_tokens WHERE position(\(token) in encode(token_hash, 'escape')) > 0",
                logger: TestDatabase.logger
            ).collect()
            #expect(try stored.first?.decode(Int64.self) == 0)
            #expect(try await app.call(.get, "/api/v1/tokens").json["items"]?.arrayValue?.allSatisfy { $0["token"] == nil } == true)

            // Triagers cannot manage staff or tokens.
            #expect(try await app.call(.get, "/api/v1/tokens", token: token).status == .forbidden)
            #expect(
                try await app.call(.post, "/api/v1/staff", token: token, json: .object(["email": .string("x@y.gov.uk"), "role": .string("admin")]))
                    .status == .forbidden)

            app.clock.advance(by: 86_401)
            let expired = try await app.call(.get, "/api/v1/requests", token: token)
            #expect(expired.status == .unauthorized)

            let second = try await app.call(.post, "/api/v1/tokens", json: .object(["email": .string("tri@callboard.test")]))
            let token2 = second.json["token"]!.stringValue!
            #expect(try await app.call(.get, "/api/v1/requests", token: token2).status == .ok)
            let revoked = try await app.call(.post, "/api/v1/tokens/\(second.json["id"]!.stringValue!)/revoke")
            #expect(revoked.json["revoked_at"] != .null)
            #expect(try await app.call(.get, "/api/v1/requests", token: token2).status == .unauthorized)
        }
    }

    @Test func disablingStaffRevokesTheirAccess() async throws {
        try await TestApp.run { app in
            let s = try await app.call(
                .post, "/api/v1/staff", json: .object(["email": .string("v@callboard.test"), "role": .string("viewer"), "name": .string("Vi")]))
            let token = try await app.call(.post, "/api/v1/tokens", json: .object(["email": .string("v@callboard.test")])).json["token"]!.stringValue!
            #expect(try await app.call(.get, "/api/v1/requests", token: token).status == .ok)
            let disabled = try await app.call(.post, "/api/v1/staff/\(s.json["id"]!.stringValue!)/disable")
            #expect(disabled.json["disabled_at"] != .null)
            #expect(try await app.call(.get, "/api/v1/requests", token: token).status == .unauthorized)
            let dup = try await app.call(.post, "/api/v1/staff", json: .object(["email": .string("V@callboard.test"), "role": .string("viewer")]))
            #expect(dup.status == .conflict)
            let bad = try await app.call(.post, "/api/v1/staff", json: .object(["email": .string("nope"), "role": .string("boss")]))
            #expect(bad.pointers == ["/email", "/role"])
        }
    }
}

@Suite struct IdempotencyTests {
    @Test func retryReturnsTheFirstResponseAndCreatesOnce() async throws {
        try await TestApp.run { app in
            let body = Items.request(["contact": Items.contact])
            let first = try await app.call(.post, "/api/v1/requests", json: body, headers: [HTTPField.Name("Idempotency-Key")!: "abc-123"])
            let again = try await app.call(.post, "/api/v1/requests", json: body, headers: [HTTPField.Name("Idempotency-Key")!: "abc-123"])
            #expect(first.status == .created)
            #expect(again.status == .created)
            #expect(again.text == first.text)
            #expect(again.etag == first.etag)
            #expect(again.headers[.location] == first.headers[.location])
            #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try await app.count("requests") == 1)

            let other = try await app.call(
                .post, "/api/v1/requests", json: Items.request([:]), headers: [HTTPField.Name("Idempotency-Key")!: "abc-123"])
            #expect(other.status == .unprocessableContent)
            #expect(other.problemType == "idempotency-key-reused")
            #expect(try await app.count("requests") == 1)
        }
    }

    /// A process that died between claiming a key and completing it leaves the claim in progress:
    /// a retry is 409 while it is fresh, and runs once the claim is abandoned (older than 15 minutes).
    @Test func anAbandonedClaimIsTakenOverByTheRetry() async throws {
        try await TestApp.run { app in
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "crashed"]
            let body = Items.request(Items.all)
            let first = try await app.call(.post, "/api/v1/requests", json: body, headers: key)
            #expect(first.status == .created)
            // As if the process had died before completing: the claim is still in progress.
            try await app.db.query("UPDATE idempotency_keys SET status = NULL, headers = NULL, body = NULL", logger: TestDatabase.logger)
            #expect(try await app.call(.post, "/api/v1/requests", json: body, headers: key).status == .conflict)
            try await app.db.query(
                "UPDATE idempotency_keys SET created_at = now() - interval '901 seconds'", logger: TestDatabase.logger)
            let retry = try await app.call(.post, "/api/v1/requests", json: body, headers: key)
            #expect(retry.status == .created)
            #expect(try await app.call(.post, "/api/v1/requests", json: body, headers: key).body == retry.body)
        }
    }

    @Test func failuresAreNotRememberedAndSecretsNeverStored() async throws {
        try await TestApp.run { app in
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "k1"]
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = r.json["id"]!.stringValue!
            var h = key
            h[.ifMatch] = "\"v1\""
            let stale = try await app.call(.post, "/api/v1/requests/\(id)/transitions/request_sign_off", headers: h)
            #expect(stale.status == .preconditionFailed)
            h[.ifMatch] = r.etag!
            #expect(try await app.call(.post, "/api/v1/requests/\(id)/transitions/request_sign_off", headers: h).status == .ok)

            let tk: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "tok"]
            let t1 = try await app.call(.post, "/api/v1/tokens", json: .object(["email": .string("admin@callboard.test")]), headers: tk)
            let t2 = try await app.call(.post, "/api/v1/tokens", json: .object(["email": .string("admin@callboard.test")]), headers: tk)
            #expect(t1.json["token"]?.stringValue != nil)
            #expect(t2.json["token"] == .null)
            #expect(t2.json["id"] == t1.json["id"])
            let leaked = try await app.db.query(
                "SELECT count(*)::int8 FROM idempotency_keys WHERE position(\(t1.json["token"]!.stringValue!) in convert_from(body, 'UTF8')) > 0",
                logger: TestDatabase.logger
            ).collect()
            #expect(try leaked.first?.decode(Int64.self) == 0)
        }
    }
}

@Suite struct ListTests {
    /// The list is written by a stream writer, not through `JSONValue`: its bytes must be the
    /// canonical serialisation (sorted keys) and each summary exactly the documented fields.
    @Test func listBodiesAreCanonicalJSONWithEverySummaryField() async throws {
        try await TestApp.run { app in
            let created = try await app.call(.post, "/api/v1/requests", json: Items.request(["contact": Items.contact, "service": Items.service]))
            let detail = created.json
            let page = try await app.call(.get, "/api/v1/requests")
            #expect(page.status == .ok)
            #expect(String(decoding: page.body, as: UTF8.self) == (try JSONValue.parse(page.body).serializedString))
            let expected: JSONValue = .object([
                "assignee": .null, "created_at": detail["created_at"]!, "department": detail["department"]!,
                "division": detail["division"]!, "etag": .string("\"v1\""), "id": detail["id"]!, "info_complete_at": .null,
                "kind": .string("transactional"),
                "missing_items": .array(
                    ["sign_off_contact", "cost_per_transaction", "user_satisfaction", "completion_rate", "digital_take_up", "service_availability"]
                        .map(JSONValue.string)),
                "reference": detail["reference"]!, "service_name": detail["items"]!["service"]!["value"]!["name"]!,
                "sign_off_decision": .null, "sla_at_risk": .bool(false), "sla_breached": .bool(false), "sla_due_at": .null,
                "state": .string("requested"), "updated_at": detail["updated_at"]!, "version": .number(1),
            ])
            #expect(page.json == .object(["items": .array([expected]), "next_cursor": .null]))
        }
    }

    /// A request's body (create, read, transition) is written straight into bytes: the canonical
    /// serialisation of itself, with every field, on a request with a promise, guards and modules.
    @Test func requestBodiesAreCanonicalJSONWithEveryField() async throws {
        try await TestApp.run { app in
            let body: JSONValue = .object([
                "kind": .string("transactional"), "department": .string("DVLA"), "items": .object(Items.all),
                "notes": .string("Seen \"quoted\" – é"), "optional_modules": .array([.string("users_right_now")]),
            ])
            let created = try await app.call(.post, "/api/v1/requests", json: body)
            #expect(created.status == .created)
            let id = try #require(created.json["id"]?.stringValue)
            let read = try await app.call(.get, "/api/v1/requests/\(id)")
            let fired = try await app.call(
                .post, "/api/v1/requests/\(id)/transitions/reopen_information", json: .object(["reason": .string("check")]),
                headers: [.ifMatch: "\"v2\""])
            #expect(fired.status == .ok)
            for answer in [created, read, fired] {
                #expect(String(decoding: answer.body, as: UTF8.self) == (try JSONValue.parse(answer.body).serializedString))
                #expect(
                    answer.json.objectValue.map { $0.keys.sorted() } == [
                        "assignee", "audit_outcome", "created_at", "department", "division", "etag", "id", "info_complete_at", "items", "kind",
                        "live_url", "missing_items", "notes", "optional_modules", "preview_url", "reference", "service_name",
                        "sign_off_decision", "sla", "state", "transitions", "updated_at", "version",
                    ])
                #expect(answer.json["items"]?.objectValue?.count == 8)
                #expect(
                    answer.json["items"]?["contact"]
                        == .object(["reason": .null, "required": .bool(true), "status": .string("provided"), "value": Items.contact["value"]!]))
                #expect(answer.json["notes"] == .string("Seen \"quoted\" – é"))
                #expect(answer.json["optional_modules"] == .array([.string("users_right_now")]))
            }
            #expect(created.json["state"] == .string("info_complete") && created.json["version"] == .number(2))
            #expect(created.json["sla"]?["calendar_version"]?.stringValue?.hasPrefix("govuk-") == true)
            #expect(
                created.json["transitions"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == [
                    "reopen_information", "request_sign_off", "withdraw",
                ])
            #expect(fired.json["state"] == .string("requested") && fired.json["sla"] == .null)
            let complete = fired.json["transitions"]?.arrayValue?.first
            #expect(complete?["name"] == .string("complete_information") && complete?["inputs"] == .array([]))
            #expect(complete?["ready"] == .bool(true) && complete?["unmet_guards"] == .array([]))
        }
    }

    @Test func cursorPagesCoverEveryRequestOnceInStableOrder() async throws {
        try await TestApp.run { app in
            var ids: [String] = []
            for i in 0..<7 {
                app.clock.advance(by: i == 3 ? 0 : 1)  // two share a created_at: the id breaks the tie
                ids.append(try await app.call(.post, "/api/v1/requests", json: Items.request([:])).json["id"]!.stringValue!)
            }
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await app.call(.get, "/api/v1/requests?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(page.status == .ok)
                seen += page.json["items"]!.arrayValue!.map { $0["id"]!.stringValue! }
                cursor = page.json["next_cursor"]?.stringValue
                pages += 1
            } while cursor != nil
            #expect(pages == 3)
            #expect(seen.count == 7)
            #expect(Set(seen) == Set(ids))
            let again = try await app.call(.get, "/api/v1/requests?limit=7").json["items"]!.arrayValue!.map { $0["id"]!.stringValue! }
            #expect(again == seen)
        }
    }

    @Test func filtersNarrowTheList() async throws {
        try await TestApp.run { app in
            try await app.call(.post, "/api/v1/staff", json: .object(["email": .string("tri@callboard.test"), "role": .string("triager")]))
            let complete = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all, department: "DVSA"))
            let partial = try await app.call(
                .post, "/api/v1/requests",
                json: .object([
                    "kind": .string("transactional"), "department": .string("HMRC"), "assignee": .string("tri@callboard.test"),
                    "items": .object([
                        "service": Items.provided([
                            "name": .string("Pay your tax bill"), "description": .string("Pay self assessment"),
                            "start_page_url": .string("https://www.gov.uk/pay-tax"),
                        ])
                    ]),
                ]))
            try await app.call(.post, "/api/v1/requests", json: Items.request([:], kind: "non_transactional", department: "HMRC"))

            func ids(_ q: String) async throws -> [String] {
                let r = try await app.call(.get, "/api/v1/requests?" + q)
                #expect(r.status == .ok, "\(q): \(r.text)")
                return r.json["items"]?.arrayValue?.map { $0["id"]!.stringValue! } ?? []
            }
            let c = complete.json["id"]!.stringValue!
            let p = partial.json["id"]!.stringValue!
            #expect(try await ids("state=info_complete") == [c])
            #expect(try await ids("state=info_complete,requested").count == 3)
            #expect(try await ids("kind=non_transactional").count == 1)
            #expect(try await ids("department=hmrc").count == 2)
            #expect(try await ids("assignee=tri@callboard.test") == [p])
            #expect(try await ids("assignee=none").count == 2)
            #expect(try await ids("missing=contact").count == 2)
            #expect(try await ids("missing=user_satisfaction") == [p])  // not required of non-transactional
            #expect(try await ids("q=tax") == [p])
            #expect(try await ids("q=licence%20drivers") == [c])

            let bad = try await app.call(.get, "/api/v1/requests?state=lost&missing=cake&limit=0&colour=red&cursor=zzz")
            #expect(bad.status == .unprocessableContent)
            #expect(Set(bad.pointers) == ["/query/state", "/query/missing", "/query/limit", "/query/colour", "/query/cursor"])
        }
    }
}

@Suite struct HistoryTests {
    @Test func theDatabaseRefusesToRewriteHistory() async throws {
        try await TestApp.run { app in
            try await app.call(.post, "/api/v1/requests", json: Items.request([:]))
            await #expect(throws: (any Error).self) {
                try await app.db.query("UPDATE request_events SET kind = 'forged'", logger: TestDatabase.logger)
            }
            await #expect(throws: (any Error).self) {
                try await app.db.query("DELETE FROM request_events", logger: TestDatabase.logger)
            }
            await #expect(throws: (any Error).self) {
                try await app.db.query("TRUNCATE request_events CASCADE", logger: TestDatabase.logger)
            }
            #expect(try await app.count("request_events") == 1)
        }
    }

    @Test func eventsArePaginated() async throws {
        try await TestApp.run { app in
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request([:]))
            let path = "/api/v1/requests/\(r.json["id"]!.stringValue!)"
            for i in 0..<4 { try await app.call(.post, path + "/comments", json: .object(["text": .string("note \(i)")])) }
            let p1 = try await app.call(.get, path + "/events?limit=3")
            #expect(p1.json["items"]?.arrayValue?.count == 3)
            let cursor = try #require(p1.json["next_cursor"]?.stringValue)
            let p2 = try await app.call(.get, path + "/events?limit=3&cursor=\(cursor)")
            #expect(p2.json["items"]?.arrayValue?.map { $0["data"]!["text"]!.stringValue! } == ["note 2", "note 3"])
            #expect(p2.json["next_cursor"] == .null)
        }
    }
}
