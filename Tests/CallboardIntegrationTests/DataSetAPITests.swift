import CallboardDomain
import Foundation
import HTTPTypes
import Testing

@Suite struct DataSetAPITests {
    static let monthly: JSONValue = .object([
        "name": .string("Channel volumes"), "cadence": .string("monthly"), "due_working_days_after_period": .number(5),
        "uploaders": .array([.object(["name": .string("Sam Patel"), "email": .string("sam@dvla.gov.uk")])]),
    ])

    /// The clock starts Wednesday 18 November 2026: October's data was due Friday 6 November.
    @Test func deadlinesFollowThePeriodAndUploadsSettleThem() async throws {
        try await TestApp.run { app in
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = r.json["id"]!.stringValue!
            let created = try await app.call(.post, "/api/v1/requests/\(id)/data-sets", json: Self.monthly)
            #expect(created.status == .created, "\(created.text)")
            let ds = created.json
            #expect(ds["current_period"] == .object(["start": .string("2026-10-01"), "end": .string("2026-10-31")]))
            #expect(ds["due_date"] == .string("2026-11-06"))
            #expect(ds["status"] == .string("overdue"))
            #expect(ds["last_upload"] == .null)
            let dsID = ds["id"]!.stringValue!

            let upload = try await app.call(.post, "/api/v1/data-sets/\(dsID)/uploads")
            #expect(upload.status == .created, "\(upload.text)")
            #expect(upload.json["upload"]?["period_start"] == .string("2026-10-01"))
            #expect(upload.json["data_set"]?["status"] == .string("received"))

            // December: November's data is now owed, due Monday 7 December.
            app.clock.advance(by: 14 * 86_400)  // Wednesday 2 December
            let listed = try await app.call(.get, "/api/v1/requests/\(id)/data-sets").json["items"]!.arrayValue!
            #expect(listed.count == 1)
            #expect(listed[0]["current_period"]?["start"] == .string("2026-11-01"))
            #expect(listed[0]["due_date"] == .string("2026-12-07"))
            #expect(listed[0]["status"] == .string("due_soon"))
            #expect(listed[0]["last_upload"]?["period_start"] == .string("2026-10-01"))

            let events = try await app.call(.get, "/api/v1/requests/\(id)/events?limit=200").json["items"]!.arrayValue!.map {
                $0["kind"]!.stringValue!
            }
            // Creating the data set emailed Sam an upload link.
            #expect(events.suffix(3) == ["data_set_created", "email_queued", "upload_recorded"])
        }
    }

    @Test func badInputIsRefusedWhole() async throws {
        try await TestApp.run { app in
            let r = try await app.call(.post, "/api/v1/requests", json: Items.request([:]))
            let id = r.json["id"]!.stringValue!
            let bad = try await app.call(
                .post, "/api/v1/requests/\(id)/data-sets",
                json: .object([
                    "name": .string(""), "cadence": .string("daily"), "due_working_days_after_period": .number(99),
                    "uploaders": .array([.object(["name": .string("Sam"), "email": .string("nope")])]),
                ]))
            #expect(bad.status == .unprocessableContent)
            #expect(Set(bad.pointers) == ["/name", "/cadence", "/due_working_days_after_period", "/uploaders/0/email"])
            #expect(try await app.count("data_sets") == 0)
            #expect(try await app.call(.post, "/api/v1/requests/\(UUID())/data-sets", json: Self.monthly).status == .notFound)

            let ds = try await app.call(.post, "/api/v1/requests/\(id)/data-sets", json: Self.monthly).json
            let dup = try await app.call(.post, "/api/v1/requests/\(id)/data-sets", json: Self.monthly)
            #expect(dup.pointers == ["/name"])
            let dsID = ds["id"]!.stringValue!
            let wrongDay = try await app.call(.post, "/api/v1/data-sets/\(dsID)/uploads", json: .object(["period_start": .string("2026-10-02")]))
            #expect(wrongDay.json["errors"]?.arrayValue?.first?["message"] == .string("must be the first day of a monthly period, like 2026-10-01"))
            let future = try await app.call(.post, "/api/v1/data-sets/\(dsID)/uploads", json: .object(["period_start": .string("2027-01-01")]))
            #expect(future.pointers == ["/period_start"])
            #expect(try await app.count("data_set_uploads") == 0)

            let viewer = try await app.token(role: .viewer)
            #expect(try await app.call(.post, "/api/v1/data-sets/\(dsID)/uploads", token: viewer).status == .forbidden)
            #expect(try await app.call(.get, "/api/v1/requests/\(id)/data-sets", token: viewer).status == .ok)

            let renamed = try await app.call(.patch, "/api/v1/requests/\(id)/data-sets/\(dsID)", json: .object(["cadence": .string("weekly")]))
            #expect(renamed.json["cadence"] == .string("weekly"))
            #expect(renamed.json["current_period"] == .object(["start": .string("2026-11-09"), "end": .string("2026-11-15")]))
            #expect(try await app.call(.patch, "/api/v1/requests/\(id)/data-sets/\(dsID)", json: .object([:])).status == .unprocessableContent)
        }
    }
}
