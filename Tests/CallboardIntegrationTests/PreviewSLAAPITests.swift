import CallboardDomain
import Foundation
import HTTPTypes
import Testing

@Suite struct PreviewSLAAPITests {
    /// The test clock starts on Wednesday 18 November 2026, 11:06:40 UTC.
    @Test func thePromiseRunsOnWorkingDaysAndShowsInTheList() async throws {
        try await TestApp.run { app in
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = r.json["id"]!.stringValue!
            let sla = try #require(r.json["sla"])
            #expect(sla["due_date"] == .string("2026-11-25"))
            #expect(sla["due_at"] == .string("2026-11-26T00:00:00.000Z"))
            #expect(sla["working_days_remaining"] == .number(5))
            #expect(sla["at_risk"] == .bool(false))
            #expect(sla["breached"] == .bool(false))
            #expect(sla["uncertain"] == .bool(false))
            #expect(
                sla["excluded_days"]
                    == .array([
                        .object(["date": .string("2026-11-21"), "reason": .string("Saturday")]),
                        .object(["date": .string("2026-11-22"), "reason": .string("Sunday")]),
                    ]))
            #expect(sla["calendar_version"]?.stringValue?.hasPrefix("govuk-") == true)
            func listed(_ filter: String) async throws -> [String] {
                try await app.call(.get, "/api/v1/requests?sla=\(filter)").json["items"]!.arrayValue!.map { $0["id"]!.stringValue! }
            }
            #expect(try await listed("at_risk") == [])

            // Tuesday 24 November: one working day left.
            app.clock.advance(by: 5 * 86_400 + 21 * 3600)
            let tuesday = try await app.call(.get, "/api/v1/requests/\(id)").json["sla"]!
            #expect(tuesday["working_days_remaining"] == .number(1))
            #expect(tuesday["at_risk"] == .bool(true))
            #expect(try await listed("at_risk") == [id])
            #expect(try await app.call(.get, "/api/v1/requests").json["items"]?.arrayValue?.first?["sla_at_risk"] == .bool(true))

            // Thursday 26 November: breached.
            app.clock.advance(by: 2 * 86_400)
            let thursday = try await app.call(.get, "/api/v1/requests/\(id)").json["sla"]!
            #expect(thursday["breached"] == .bool(true))
            #expect(thursday["at_risk"] == .bool(false))
            #expect(try await listed("at_risk") == [])
            #expect(try await listed("breached") == [id])
            #expect(try await app.call(.get, "/api/v1/requests?sla=soon").status == .unprocessableContent)
        }
    }

    /// Complete on Wednesday 25 November 2026: due Wednesday 2 December in England; moved to
    /// Scotland, St Andrew's Day (Monday 30 November) does not count, so Thursday 3 December.
    @Test func movingDivisionReDatesARunningPromise() async throws {
        try await TestApp.run { app in
            app.clock.advance(by: 7 * 86_400)
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = r.json["id"]!.stringValue!
            #expect(r.json["sla"]?["due_date"] == .string("2026-12-02"))
            let moved = try await app.call(
                .patch, "/api/v1/requests/\(id)", json: .object(["division": .string("scotland")]),
                headers: [.ifMatch: r.etag!])
            #expect(moved.status == .ok)
            let sla = try #require(moved.json["sla"])
            #expect(sla["due_date"] == .string("2026-12-03"))
            #expect(sla["started_at"] == r.json["sla"]?["started_at"])
            #expect(
                sla["excluded_days"]?.arrayValue?.contains(.object(["date": .string("2026-11-30"), "reason": .string("St Andrew’s Day")])) == true)
        }
    }

    @Test func publishingThePreviewMeetsItAndReopeningStopsIt() async throws {
        try await TestApp.run { app in
            var r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = r.json["id"]!.stringValue!
            func fire(_ name: String, _ body: JSONValue? = nil) async throws {
                r = try await app.call(.post, "/api/v1/requests/\(id)/transitions/\(name)", json: body, headers: [.ifMatch: r.etag!])
                #expect(r.status == .ok, "\(name): \(r.text)")
            }
            try await fire("reopen_information", .object(["reason": .string("Wrong start page")]))
            #expect(r.json["sla"] == .null)
            app.clock.advance(by: 86_400)  // Thursday 19th: the promise starts again from here
            // Every required item is still settled, so the next change completes the information by itself.
            r = try await app.call(.patch, "/api/v1/requests/\(id)", json: .object(["notes": .string("fixed")]), headers: [.ifMatch: r.etag!])
            #expect(r.json["state"] == .string("info_complete"))
            #expect(r.json["sla"]?["due_date"] == .string("2026-11-26"))
            try await fire("request_sign_off")
            try await fire("approve_sign_off", .object(["evidence": .string("email")]))
            try await fire("mark_built")
            app.clock.advance(by: 3 * 86_400)
            try await fire("publish_preview", .object(["preview_url": .string("https://preview.gov.uk/x")]))
            let sla = try #require(r.json["sla"])
            #expect(sla["met_at"] != .null)
            #expect(sla["breached"] == .bool(false))
            #expect(sla["at_risk"] == .bool(false))
            #expect(sla["working_days_remaining"] == .number(0))
            app.clock.advance(by: 30 * 86_400)
            #expect(try await app.call(.get, "/api/v1/requests?sla=breached").json["items"]?.arrayValue == [])
        }
    }

    @Test func theTriageOrderIsSoonestDueFirst() async throws {
        try await TestApp.run { app in
            func create(_ items: [String: JSONValue]) async throws -> String {
                app.clock.advance(by: 60)
                return try await app.call(.post, "/api/v1/requests", json: Items.request(items)).json["id"]!.stringValue!
            }
            let partial = try await create(["contact": Items.contact])
            app.clock.advance(by: 86_400)
            let later = try await create(Items.all)
            app.clock.advance(by: -2 * 86_400)
            let sooner = try await create(Items.all)
            let noneYet = try await create([:])
            func page(_ query: String) async throws -> ([String], String?) {
                let r = try await app.call(.get, "/api/v1/requests?sort=sla_due&" + query)
                #expect(r.status == .ok, "\(r.text)")
                return (r.json["items"]!.arrayValue!.map { $0["id"]!.stringValue! }, r.json["next_cursor"]?.stringValue)
            }
            // Without a running promise: oldest first (noneYet was created, clock-wise, before partial).
            let expected = [sooner, later, noneYet, partial]
            #expect(try await page("limit=10").0 == expected)
            var seen: [String] = []
            var cursor: String?
            repeat {
                let (ids, next) = try await page("limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""))
                seen += ids
                cursor = next
            } while cursor != nil
            #expect(seen == expected)
            // A cursor from one order does not continue the other.
            let created = try await app.call(.get, "/api/v1/requests?limit=1").json["next_cursor"]!.stringValue!
            #expect(try await app.call(.get, "/api/v1/requests?sort=sla_due&cursor=\(created)").status == .unprocessableContent)
            #expect(try await app.call(.get, "/api/v1/requests?sort=urgent").status == .unprocessableContent)
        }
    }
}
