import CallboardDomain
import Foundation
import HTTPTypes
import Testing

/// `callboard_stage_duration_seconds{stage}`: each move records the time spent in the stage it
/// left, on the injected clock, only once committed, read from the metrics listener.
@Suite struct StageMetricsTests {
    func fire(_ app: TestApp, _ id: String, _ name: String, _ etag: String, body: JSONValue? = nil) async throws -> TestResponse {
        let r = try await app.call(.post, "/api/v1/requests/\(id)/transitions/\(name)", json: body, headers: [.ifMatch: etag])
        #expect(r.status == .ok, "\(name): \(r.text)")
        return r
    }

    @Test func eachStageLeftIsObservedWithItsExactDuration() async throws {
        try await TestApp.run { app in
            // Created complete: information lasts 0 s (complete_information fires at once).
            let created = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = created.json["id"]!.stringValue!
            app.clock.advance(by: 2 * 86_400)
            var r = try await fire(app, id, "request_sign_off", created.etag!)
            app.clock.advance(by: 5 * 86_400 + 30)
            r = try await fire(app, id, "approve_sign_off", r.etag!, body: .object(["evidence": .string("Email from Grace")]))
            app.clock.advance(by: 3 * 86_400)
            r = try await fire(app, id, "mark_built", r.etag!)
            app.clock.advance(by: 3_600)
            r = try await fire(app, id, "publish_preview", r.etag!, body: .object(["preview_url": .string("https://preview.example.gov.uk/x")]))
            // A refused firing (stale version) records nothing.
            app.clock.advance(by: 7 * 86_400)
            let stale = try await app.call(
                .post, "/api/v1/requests/\(id)/transitions/go_live", json: .object(["live_url": .string("https://www.gov.uk/performance/x")]),
                headers: [.ifMatch: created.etag!])
            #expect(stale.status == .preconditionFailed || stale.status == .conflict)
            r = try await fire(app, id, "go_live", r.etag!, body: .object(["live_url": .string("https://www.gov.uk/performance/x")]))

            let text = try await app.scrapeMetrics().text
            let expected: [(String, Int, String)] = [
                ("information", 1, "0.0"), ("awaiting_sign_off_request", 1, "172800.0"), ("sign_off", 1, "432030.0"),
                ("build", 1, "259200.0"), ("preview", 1, "3600.0"), ("go_live", 1, "604800.0"),
            ]
            for (stage, count, sum) in expected {
                #expect(text.contains("callboard_stage_duration_seconds_count{stage=\"\(stage)\"} \(count)\n"), "\(stage) count")
                #expect(text.contains("callboard_stage_duration_seconds_sum{stage=\"\(stage)\"} \(sum)\n"), "\(stage) sum")
            }
            // Real buckets for minutes to months: the 5-day sign-off lands above 5 d and within 10 d.
            #expect(text.contains("callboard_stage_duration_seconds_bucket{stage=\"sign_off\",le=\"432000.0\"} 0\n"))
            #expect(text.contains("callboard_stage_duration_seconds_bucket{stage=\"sign_off\",le=\"864000.0\"} 1\n"))
            #expect(text.contains("callboard_stage_duration_seconds_bucket{stage=\"go_live\",le=\"13824000.0\"} 1\n"))
        }
    }
}
