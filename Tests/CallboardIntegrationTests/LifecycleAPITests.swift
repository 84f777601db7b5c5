import CallboardDomain
import Foundation
import HTTPTypes
import Testing

@Suite struct LifecycleAPITests {
    /// Fires a transition with the request's current ETag and returns the response.
    private func fire(_ app: TestApp, _ id: String, _ name: String, etag: String, body: JSONValue? = nil, token: String? = nil) async throws
        -> TestResponse
    {
        try await app.call(.post, "/api/v1/requests/\(id)/transitions/\(name)", token: token, json: body, headers: [.ifMatch: etag])
    }

    @Test func wholeLifecycleFromRequestToAuditedLive() async throws {
        try await TestApp.run { app in
            var r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = r.json["id"]!.stringValue!
            #expect(r.json["state"] == .string("info_complete"))

            r = try await fire(app, id, "request_sign_off", etag: r.etag!)
            #expect(r.json["state"] == .string("signoff_pending"))
            // Not yet approved: mark_built is listed but not ready, and firing it says why.
            let early = try await fire(app, id, "mark_built", etag: r.etag!)
            #expect(early.status == .conflict)
            #expect(early.problemType == "guards-unmet")
            #expect(early.json["unmet_guards"]?.arrayValue?.map { $0["code"]!.stringValue! } == ["sign_off_approved"])
            #expect(early.json["allowed_transitions"] == .array(["approve_sign_off", "request_changes", "withdraw"].map(JSONValue.string)))

            // Staff recording the approval must give evidence.
            let noEvidence = try await fire(app, id, "approve_sign_off", etag: r.etag!)
            #expect(noEvidence.status == .conflict)
            #expect(noEvidence.json["unmet_guards"]?.arrayValue?.map { $0["code"]!.stringValue! } == ["evidence_given_by_staff"])
            r = try await fire(app, id, "approve_sign_off", etag: r.etag!, body: .object(["evidence": .string("Email from Grace, 3 March")]))
            #expect(r.status == .ok)
            #expect(r.json["sign_off_decision"] == .string("approved"))
            #expect(r.json["state"] == .string("signoff_pending"))

            r = try await fire(app, id, "mark_built", etag: r.etag!)
            #expect(r.json["state"] == .string("built"))
            let noURL = try await fire(app, id, "publish_preview", etag: r.etag!)
            #expect(noURL.json["unmet_guards"]?.arrayValue?.map { $0["code"]!.stringValue! } == ["preview_url_known"])
            let httpURL = try await fire(app, id, "publish_preview", etag: r.etag!, body: .object(["preview_url": .string("http://p.gov.uk")]))
            #expect(httpURL.status == .unprocessableContent)
            #expect(httpURL.pointers == ["/preview_url"])
            r = try await fire(app, id, "publish_preview", etag: r.etag!, body: .object(["preview_url": .string("https://preview.gov.uk/d")]))
            #expect(r.json["preview_url"] == .string("https://preview.gov.uk/d"))
            r = try await fire(app, id, "go_live", etag: r.etag!, body: .object(["live_url": .string("https://www.gov.uk/performance/d")]))
            #expect(r.json["state"] == .string("live"))
            r = try await fire(app, id, "start_product_audit", etag: r.etag!)
            #expect(r.json["state"] == .string("product_audit"))
            r = try await fire(app, id, "complete_product_audit", etag: r.etag!, body: .object(["outcome": .string("actions_agreed")]))
            #expect(r.json["state"] == .string("live"))
            #expect(r.json["audit_outcome"] == .string("actions_agreed"))
            #expect(r.etag == "\"v9\"")

            let all = try await app.call(.get, "/api/v1/requests/\(id)/events?limit=200").json["items"]!.arrayValue!
            let events = all.filter { !($0["kind"]!.stringValue!.hasPrefix("email_")) }
            let transitions = events.filter { $0["kind"] == .string("transitioned") }.map { $0["data"]!["transition"]!.stringValue! }
            #expect(
                transitions == [
                    "complete_information", "request_sign_off", "approve_sign_off", "mark_built", "publish_preview",
                    "go_live", "start_product_audit", "complete_product_audit",
                ])
            #expect(events.map { $0["version"] } == (1...9).map { JSONValue.number(Double($0)) })
            #expect(
                events.first { $0["data"]?["transition"] == .string("approve_sign_off") }?["data"]?["evidence"]
                    == .string("Email from Grace, 3 March"))
        }
    }

    @Test func illegalTransitionListsWhatIsAllowed() async throws {
        try await TestApp.run { app in
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request([:]))
            let bad = try await fire(
                app, r.json["id"]!.stringValue!, "go_live", etag: r.etag!, body: .object(["live_url": .string("https://x.gov.uk")]))
            #expect(bad.status == .conflict)
            #expect(bad.problemType == "illegal-transition")
            #expect(bad.json["state"] == .string("requested"))
            #expect(bad.json["allowed_transitions"] == .array([.string("withdraw")]))
            #expect(try await app.count("request_events") == 1)
        }
    }

    @Test func transitionBodyIsCheckedAgainstTheTable() async throws {
        try await TestApp.run { app in
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request([:]))
            let id = r.json["id"]!.stringValue!
            let extra = try await fire(
                app, id, "withdraw", etag: r.etag!, body: .object(["reason": .string("dup"), "preview_url": .string("https://a.gov.uk")]))
            #expect(extra.status == .unprocessableContent)
            #expect(
                extra.json["errors"] == .array([.object(["pointer": .string("/preview_url"), "message": .string("is not an input of withdraw")])]))
            let noReason = try await fire(app, id, "withdraw", etag: r.etag!)
            #expect(noReason.status == .conflict)
            #expect(noReason.json["unmet_guards"]?.arrayValue?.first?["message"] == .string("Give a reason"))
            let noIfMatch = try await app.call(.post, "/api/v1/requests/\(id)/transitions/withdraw", json: .object(["reason": .string("x")]))
            #expect(noIfMatch.status == .preconditionRequired)
            let done = try await fire(app, id, "withdraw", etag: r.etag!, body: .object(["reason": .string("Duplicate of another request")]))
            #expect(done.json["state"] == .string("withdrawn"))
            #expect(done.json["transitions"] == .array([]))
            let patch = try await app.call(.patch, "/api/v1/requests/\(id)", json: .object(["notes": .string("x")]), headers: [.ifMatch: done.etag!])
            #expect(patch.status == .conflict)
        }
    }

    @Test func rolesDecideWhatMayBeFired() async throws {
        try await TestApp.run { app in
            let viewer = try await app.token(role: .viewer)
            let triager = try await app.token(role: .triager)
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = r.json["id"]!.stringValue!
            let asViewer = try await app.call(.get, "/api/v1/requests/\(id)", token: viewer)
            #expect(asViewer.status == .ok)
            #expect(asViewer.json["transitions"] == .array([]))
            let denied = try await fire(app, id, "request_sign_off", etag: r.etag!, token: viewer)
            #expect(denied.status == .forbidden)
            #expect(denied.json["allowed_actors"] == .array(["admin", "triager"].map(JSONValue.string)))
            #expect(try await app.call(.post, "/api/v1/requests", token: viewer, json: Items.request([:])).status == .forbidden)
            #expect(
                try await app.call(
                    .patch, "/api/v1/requests/\(id)", token: viewer, json: .object(["notes": .string("x")]),
                    headers: [.ifMatch: r.etag!]
                ).status == .forbidden)
            #expect(try await fire(app, id, "request_sign_off", etag: r.etag!, token: triager).status == .ok)
        }
    }

    /// Twenty clients fire the same transition with the same If-Match at once: exactly one wins.
    @Test func concurrentTransitionsHaveExactlyOneWinner() async throws {
        try await TestApp.run(.live) { app in
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = r.json["id"]!.stringValue!
            let etag = r.etag!
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await fire(app, id, "request_sign_off", etag: etag).status }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1)
            #expect(statuses.filter { $0 == .preconditionFailed }.count == 19)
            let events = try await app.call(.get, "/api/v1/requests/\(id)/events").json["items"]!.arrayValue!
            #expect(events.filter { $0["data"]?["transition"] == .string("request_sign_off") }.count == 1)
            #expect(try await app.call(.get, "/api/v1/requests/\(id)").etag == "\"v3\"")
        }
    }
}
