import CallboardDomain
import Foundation
import HTTPTypes
import Testing

@Suite struct RequestsAPITests {
    @Test func createThenGetRoundTripsWithETagAndHistory() async throws {
        try await TestApp.run { app in
            let created = try await app.call(.post, "/api/v1/requests", json: Items.request(["contact": Items.contact, "service": Items.service]))
            #expect(created.status == .created)
            #expect(created.headers[.contentType] == "application/json")
            let id = try #require(created.json["id"]?.stringValue)
            #expect(created.headers[.location] == "/api/v1/requests/\(id)")
            #expect(created.etag == "\"v1\"")
            #expect(created.json["state"] == .string("requested"))
            #expect(created.json["service_name"] == .string("Renew your driving licence"))
            #expect(created.json["items"]?["contact"]?["status"] == .string("provided"))
            #expect(created.json["items"]?["sign_off_contact"]?["status"] == .string("missing"))
            #expect(
                created.json["missing_items"]
                    == .array(
                        [
                            "sign_off_contact", "cost_per_transaction", "user_satisfaction",
                            "completion_rate", "digital_take_up", "service_availability",
                        ].map(JSONValue.string)))
            #expect(created.json["transitions"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == ["complete_information", "withdraw"])
            #expect(created.json["transitions"]?.arrayValue?.first?["ready"] == .bool(false))

            let got = try await app.call(.get, "/api/v1/requests/\(id)")
            #expect(got.status == .ok)
            #expect(got.etag == "\"v1\"")
            #expect(got.json == created.json)

            let events = try await app.call(.get, "/api/v1/requests/\(id)/events")
            // Information is missing: the service contact is emailed their task-list link at once.
            #expect(events.json["items"]?.arrayValue?.map { $0["kind"]?.stringValue ?? "" } == ["created", "email_queued"])
            #expect(events.json["items"]?.arrayValue?.last?["data"]?["email_kind"] == .string("information_request"))
            #expect(events.json["items"]?.arrayValue?.first?["actor"]?["kind"] == .string("admin"))
        }
    }

    @Test func everyFieldErrorIsReportedAtOnceAndNothingIsWritten() async throws {
        try await TestApp.run { app in
            let body: JSONValue = .object([
                "kind": .string("weekly"),
                "items": .object([
                    "contact": Items.provided(["name": .string("A"), "email": .string("not-an-email"), "phone": .string("12")]),
                    "service": Items.provided([
                        "name": .string("S"), "description": .string("D"), "start_page_url": .string("http://insecure.gov.uk"),
                    ]),
                    "favourite_colour": .string("blue"),
                ]),
                "surprise": .bool(true),
            ])
            let r = try await app.call(.post, "/api/v1/requests", json: body)
            #expect(r.status == .unprocessableContent)
            #expect(r.headers[.contentType] == "application/problem+json")
            #expect(r.problemType == "validation")
            #expect(
                Set(r.pointers) == [
                    "/kind", "/department", "/items/contact/value/email", "/items/contact/value/phone",
                    "/items/service/value/start_page_url", "/items/favourite_colour", "/surprise",
                ])
            #expect(try await app.count("requests") == 0)
            #expect(try await app.count("request_events") == 0)
        }
    }

    @Test func malformedBodiesGetClearProblems() async throws {
        try await TestApp.run { app in
            let bad = try await app.call(.post, "/api/v1/requests", raw: "{\"kind\": ")
            #expect(bad.status == .badRequest)
            #expect(bad.problemType == "malformed-json")
            let form = try await app.call(.post, "/api/v1/requests", raw: "kind=transactional", contentType: "application/x-www-form-urlencoded")
            #expect(form.status == .unsupportedMediaType)
            let array = try await app.call(.post, "/api/v1/requests", json: .array([]))
            #expect(array.status == .unprocessableContent)
            #expect(array.json["errors"]?.arrayValue?.first?["message"] == .string("must be an object, got an array"))
            let empty = try await app.call(.post, "/api/v1/requests")
            #expect(empty.status == .badRequest)
            let huge = try await app.call(.post, "/api/v1/requests", raw: "{\"notes\": \"" + String(repeating: "x", count: 1_100_000) + "\"}")
            #expect(huge.status == .contentTooLarge)
            #expect(huge.problemType == "body-too-large")
            #expect(try await app.count("requests") == 0)
        }
    }

    @Test func unknownThingsAre404Problems() async throws {
        try await TestApp.run { app in
            #expect(try await app.call(.get, "/api/v1/requests/not-a-uuid").status == .notFound)
            let missing = try await app.call(.get, "/api/v1/requests/\(UUID().uuidString)")
            #expect(missing.status == .notFound)
            #expect(missing.headers[.contentType] == "application/problem+json")
            let created = try await app.call(.post, "/api/v1/requests", json: Items.request([:]))
            let id = created.json["id"]!.stringValue!
            let t = try await app.call(.post, "/api/v1/requests/\(id)/transitions/teleport", headers: [.ifMatch: "\"v1\""])
            #expect(t.status == .notFound)
            #expect(t.problemType == "unknown-transition")
            #expect(try await app.call(.get, "/api/v1/nothing-here").status == .notFound)
        }
    }

    @Test func patchNeedsCurrentIfMatchAndRecordsTheDiff() async throws {
        try await TestApp.run { app in
            let created = try await app.call(.post, "/api/v1/requests", json: Items.request([:]))
            let path = "/api/v1/requests/\(created.json["id"]!.stringValue!)"
            let change: JSONValue = .object(["department": .string("DVSA"), "notes": .string("Urgent for the minister")])

            let noIfMatch = try await app.call(.patch, path, json: change)
            #expect(noIfMatch.status == .preconditionRequired)
            let garbled = try await app.call(.patch, path, json: change, headers: [.ifMatch: "yesterday"])
            #expect(garbled.status == .badRequest)
            let stale = try await app.call(.patch, path, json: change, headers: [.ifMatch: "\"v7\""])
            #expect(stale.status == .preconditionFailed)
            #expect(stale.json["current_etag"] == .string("\"v1\""))

            let ok = try await app.call(.patch, path, json: change, headers: [.ifMatch: "\"v1\""])
            #expect(ok.status == .ok)
            #expect(ok.etag == "\"v2\"")
            #expect(ok.json["department"] == .string("DVSA"))
            // The same If-Match again is now stale.
            #expect(try await app.call(.patch, path, json: change, headers: [.ifMatch: "\"v1\""]).status == .preconditionFailed)

            let events = try await app.call(.get, path + "/events").json["items"]!.arrayValue!
            #expect(events.map { $0["kind"]!.stringValue! } == ["created", "updated"])
            #expect(events[1]["version"] == .number(2))
            #expect(events[1]["data"]?["changes"]?["department"] == .object(["before": .string("DVLA"), "after": .string("DVSA")]))
            #expect(events[1]["data"]?["changes"]?["notes"]?["after"] == .string("Urgent for the minister"))
        }
    }

    @Test func suppliedLastItemCompletesInformationAutomatically() async throws {
        try await TestApp.run { app in
            var items = Items.all
            items.removeValue(forKey: "service_availability")
            let created = try await app.call(.post, "/api/v1/requests", json: Items.request(items))
            #expect(created.json["state"] == .string("requested"))
            let path = "/api/v1/requests/\(created.json["id"]!.stringValue!)"
            let done = try await app.call(
                .patch, path,
                json: .object([
                    "items": .object([
                        "service_availability":
                            Items.provided(["health_check_url": .string("https://dvla.gov.uk/health")])
                    ])
                ]), headers: [.ifMatch: "\"v1\""])
            #expect(done.status == .ok)
            #expect(done.json["state"] == .string("info_complete"))
            #expect(done.etag == "\"v3\"")
            #expect(done.json["info_complete_at"] != .null)
            let events = try await app.call(.get, path + "/events").json["items"]!.arrayValue!
            #expect(events.map { $0["kind"]!.stringValue! } == ["created", "email_queued", "updated", "transitioned"])
            #expect(events[3]["actor"]?["kind"] == .string("system"))
            #expect(events[3]["data"]?["transition"] == .string("complete_information"))
        }
    }

    @Test func nonTransactionalCompletesWithContactsAndService() async throws {
        try await TestApp.run { app in
            let r = try await app.call(
                .post, "/api/v1/requests",
                json: Items.request(
                    ["contact": Items.contact, "sign_off_contact": Items.signOff, "service": Items.service], kind: "non_transactional"))
            #expect(r.json["state"] == .string("info_complete"))
            #expect(r.json["missing_items"] == .array([]))
        }
    }

    @Test func takingBackARequiredItemAfterCompletionNeedsReopening() async throws {
        try await TestApp.run { app in
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let path = "/api/v1/requests/\(r.json["id"]!.stringValue!)"
            let back = try await app.call(
                .patch, path, json: .object(["items": .object(["contact": .object(["status": .string("missing")])])]),
                headers: [.ifMatch: r.etag!])
            #expect(back.status == .unprocessableContent)
            #expect(back.pointers == ["/items/contact"])
            #expect(try await app.call(.get, path).etag == r.etag)
        }
    }

    @Test func commentsAreEventsWithoutANewVersion() async throws {
        try await TestApp.run { app in
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request([:]))
            let path = "/api/v1/requests/\(r.json["id"]!.stringValue!)"
            let c = try await app.call(.post, path + "/comments", json: .object(["text": .string("Chased by phone")]))
            #expect(c.status == .created)
            #expect(c.json["kind"] == .string("comment"))
            #expect(c.json["data"] == .object(["text": .string("Chased by phone")]))
            #expect(try await app.call(.post, path + "/comments", json: .object(["text": .string(" ")])).pointers == ["/text"])
            #expect(try await app.call(.get, path).etag == "\"v1\"")
        }
    }
}
