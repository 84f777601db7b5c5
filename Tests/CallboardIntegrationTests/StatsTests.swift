import CallboardDomain
import CallboardStorage
import Foundation
import HTTPTypes
import PostgresNIO
import Testing

/// The team's figures for a hand-made history with known answers (docs/team-performance.md).
/// Four requests from Wednesday 18 November 2026, each step at noon (GMT, so London too):
/// - A (England and Wales): complete at once; sign-off asked Fri 20, approved Wed 25, built Thu 26,
///   preview Fri 27 (promise due Wed 25: broken), live Tue 1 December. A weekly data set.
/// - B (Scotland, St Andrew's Day Mon 30 November): asked Thu 19, approved Fri 20, built Mon 23,
///   preview Tue 24 (kept), live Tue 1 December.
/// - C (England and Wales): complete Thu 19 by an item, reopened Fri 20, complete again Mon 23
///   (the promise restarts, due Mon 30, never met: breached).
/// - D: withdrawn Thu 19 while information was missing.
@Suite struct StatsTests {
    static let logger = TestDatabase.logger

    func at(_ app: TestApp, _ day: String) {
        let target = ISO8601DateFormatter().date(from: "\(day)T12:00:00Z")!
        precondition(target >= app.clock.now())
        app.clock.advance(by: target.timeIntervalSince(app.clock.now()))
    }

    func history(_ app: TestApp) async throws -> (a: String, b: String, c: String, d: String) {
        var etags: [String: String] = [:]
        func create(_ items: [String: JSONValue], division: String = "england-and-wales") async throws -> String {
            var body = Items.request(items).objectValue!
            body["division"] = .string(division)
            let r = try await app.call(.post, "/api/v1/requests", json: .object(body))
            #expect(r.status == .created, "\(r.text)")
            let id = r.json["id"]!.stringValue!
            etags[id] = r.etag!
            return id
        }
        func fire(_ id: String, _ name: String, _ body: [String: JSONValue] = [:]) async throws {
            let r = try await app.call(.post, "/api/v1/requests/\(id)/transitions/\(name)", json: .object(body), headers: [.ifMatch: etags[id]!])
            #expect(r.status == .ok, "\(name): \(r.text)")
            etags[id] = r.etag!
        }
        var partial = Items.all
        partial["completion_rate"] = nil

        at(app, "2026-11-18")
        let a = try await create(Items.all)
        let b = try await create(Items.all, division: "scotland")
        let c = try await create(partial)
        let d = try await create(partial)
        let ds = try await app.call(
            .post, "/api/v1/requests/\(a)/data-sets",
            json: .object([
                "name": .string("Weekly volumes"), "cadence": .string("weekly"), "due_working_days_after_period": .number(1),
                "uploaders": .array([.object(["name": .string("Sam Patel"), "email": .string("sam@dvla.gov.uk")])]),
            ]))
        #expect(ds.status == .created, "\(ds.text)")
        let dataSet = ds.json["id"]!.stringValue!

        at(app, "2026-11-19")
        try await fire(b, "request_sign_off")
        let patched = try await app.call(
            .patch, "/api/v1/requests/\(c)", json: .object(["items": .object(["completion_rate": Items.all["completion_rate"]!])]),
            headers: [.ifMatch: etags[c]!])
        #expect(patched.json["state"] == .string("info_complete"), "\(patched.text)")
        etags[c] = patched.etag!
        try await fire(d, "withdraw", ["reason": .string("Duplicate")])

        at(app, "2026-11-20")
        try await fire(a, "request_sign_off")
        try await fire(b, "approve_sign_off", ["evidence": .string("Email")])
        try await fire(c, "reopen_information", ["reason": .string("Wrong start page")])

        at(app, "2026-11-23")
        try await fire(b, "mark_built")
        try await fire(c, "complete_information")
        let onTime = try await app.call(.post, "/api/v1/data-sets/\(dataSet)/uploads", json: .object(["period_start": .string("2026-11-16")]))
        #expect(onTime.status == .created, "\(onTime.text)")

        at(app, "2026-11-24")
        try await fire(b, "publish_preview", ["preview_url": .string("https://www.gov.uk/performance/b")])
        at(app, "2026-11-25")
        try await fire(a, "approve_sign_off", ["evidence": .string("Email")])
        at(app, "2026-11-26")
        try await fire(a, "mark_built")
        at(app, "2026-11-27")
        try await fire(a, "publish_preview", ["preview_url": .string("https://www.gov.uk/performance/a")])
        at(app, "2026-12-01")
        try await fire(a, "go_live", ["live_url": .string("https://www.gov.uk/performance/a")])
        try await fire(b, "go_live", ["live_url": .string("https://www.gov.uk/performance/b")])
        at(app, "2026-12-02")
        let late = try await app.call(.post, "/api/v1/data-sets/\(dataSet)/uploads", json: .object(["period_start": .string("2026-11-23")]))
        #expect(late.status == .created, "\(late.text)")

        // Three sign-off reminders owed Monday 23 November: settled 2 and 3 working days later, and never.
        try await app.db.query(
            """
            INSERT INTO reminders (dedup_key, rule, kind, step, request_id, recipients, created_at, settled_at)
            VALUES ('r1', 'sign_off', 'sign_off_undecided', 1, \(UUID(uuidString: a)!), '{grace@dvla.gov.uk}', '2026-11-23T12:00:00Z', '2026-11-25T09:00:00Z'),
                   ('r2', 'sign_off', 'sign_off_undecided', 2, \(UUID(uuidString: a)!), '{grace@dvla.gov.uk}', '2026-11-23T12:00:00Z', '2026-11-26T09:00:00Z'),
                   ('r3', 'sign_off', 'sign_off_undecided', 3, \(UUID(uuidString: c)!), '{grace@dvla.gov.uk}', '2026-11-23T12:00:00Z', NULL)
            """, logger: Self.logger)
        let email = UUID()
        try await app.db.query(
            """
            INSERT INTO emails (id, request_id, kind, recipient, subject, body_text, body_html, status, run_at, message_id, created_at, updated_at, sent_at)
            VALUES (\(email), \(UUID(uuidString: a)!), 'reminder_digest', 'grace@dvla.gov.uk', 's', 't', 'h', 'sent',
                    '2026-11-23T12:00:00Z', 'm', '2026-11-23T12:00:00Z', '2026-11-23T12:00:00Z', '2026-11-23T12:01:00Z')
            """, logger: Self.logger)
        try await app.db.query("INSERT INTO reminder_emails (reminder_key, email_id) VALUES ('r1', \(email))", logger: Self.logger)
        at(app, "2026-12-08")
        return (a, b, c, d)
    }

    static func summary(_ median: Double?, _ p90: Double?) -> JSONValue {
        .object(["median": median.map(JSONValue.number) ?? .null, "p90": p90.map(JSONValue.number) ?? .null].filter { $0.value != .null })
    }

    static func stage(_ name: String, _ title: String, _ count: Int, wd: (Double?, Double?), cd: (Double?, Double?)) -> JSONValue {
        .object([
            "stage": .string(name), "title": .string(title), "count": .number(Double(count)), "working_days": summary(wd.0, wd.1),
            "calendar_days": summary(cd.0, cd.1),
        ])
    }

    @Test func everyFigureForAHandMadeHistory() async throws {
        try await TestApp.run { app in
            let (a, _, _, _) = try await history(app)
            let r = try await app.call(.get, "/api/v1/stats?from=2026-11-01&to=2026-12-08")
            #expect(r.status == .ok, "\(r.text)")
            let f = r.json
            #expect(f["period"]?["months"] == .array([.string("2026-11"), .string("2026-12")]))
            #expect(f["period"]?["label"] == .string("Sunday 1 November 2026 to Tuesday 8 December 2026"))

            // The promise: A late, B kept, C due Monday 30 November and never met.
            #expect(
                f["promise"]
                    == .object([
                        "months": .array([
                            .object(["month": .string("2026-11"), "kept": .number(1), "broken": .number(2), "kept_share": .number(0.333)]),
                            .object(["month": .string("2026-12"), "kept": .number(0), "broken": .number(0)]),
                        ]),
                        "kept": .number(1), "broken": .number(2), "kept_share": .number(0.333), "breached_now": .number(1), "at_risk_now": .number(0),
                    ]))

            // Stages: every stretch of a request in a stage summed; D's withdrawal ends no stage.
            #expect(
                f["stages"]
                    == .array([
                        Self.stage("information", "Requested to information complete", 3, wd: (0, 1.6), cd: (0, 3.2)),
                        Self.stage("awaiting_sign_off_request", "Information complete to sign-off asked", 3, wd: (1, 1.8), cd: (1, 1.8)),
                        Self.stage("sign_off", "Sign-off asked to decided", 2, wd: (2, 2.8), cd: (3, 4.6)),
                        Self.stage("build", "Approved to built", 2, wd: (1, 1), cd: (2, 2.8)),
                        Self.stage("preview", "Built to preview published", 2, wd: (1, 1), cd: (1, 1)),
                        // Scotland's St Andrew's Day: B's 7 days from preview to live are 4 working days, A's 4 days are 2.
                        Self.stage("go_live", "Preview to live", 2, wd: (3, 3.8), cd: (5.5, 6.7)),
                    ]))
            #expect(
                f["end_to_end"]
                    == .object(["count": .number(2), "working_days": Self.summary(8.5, 8.9), "calendar_days": Self.summary(13, 13)]))

            // Where the time went for A and B (26 days in all): sign-off 6 days, building 4.
            let shares = f["where_time_goes"]?["stages"]?.arrayValue?.map {
                [
                    $0["stage"]!.stringValue!, "\($0["share"]!.doubleValue!)", "\($0["total_working_days"]!.doubleValue!)",
                    "\($0["total_calendar_days"]!.doubleValue!)",
                ]
            }
            #expect(
                shares == [
                    ["information", "0.0", "0.0", "0.0"], ["awaiting_sign_off_request", "0.115", "3.0", "3.0"], ["sign_off", "0.231", "4.0", "6.0"],
                    ["build", "0.154", "2.0", "4.0"], ["preview", "0.077", "2.0", "2.0"], ["go_live", "0.423", "6.0", "11.0"],
                ])
            #expect(f["where_time_goes"]?["requests"] == .number(2))
            #expect(f["where_time_goes"]?["sign_off_longer_than_building"] == .bool(true))

            #expect(
                f["flow"]?["months"]
                    == .array([
                        .object(["month": .string("2026-11"), "created": .number(4), "withdrawn": .number(1), "went_live": .number(0)]),
                        .object(["month": .string("2026-12"), "created": .number(0), "withdrawn": .number(0), "went_live": .number(2)]),
                    ]))
            let open = f["flow"]?["open"]?.arrayValue?.map {
                "\($0["state"]!.stringValue!) \($0["count"]!.doubleValue!) \($0["median_age_days"]?.doubleValue.map { "\($0)" } ?? "null")"
            }
            #expect(
                open == ["requested 0.0 null", "info_complete 1.0 20.0", "signoff_pending 0.0 null", "built 0.0 null", "preview_published 0.0 null"])

            #expect(
                f["reminders"]
                    == .object([
                        "months": .array([.object(["month": .string("2026-11"), "kind": .string("sign_off_undecided"), "sent": .number(1)])]),
                        "kinds": .array([
                            .object([
                                "kind": .string("sign_off_undecided"), "reminders": .number(3), "followed_within_two_working_days": .number(1),
                                "share": .number(0.333),
                            ])
                        ]),
                    ]))

            // Weekly, due a working day after each Sunday: on time Mon 23, 2 working days late Wed 2, nothing for the week to 6 December.
            let uploads = f["uploads"]?.arrayValue ?? []
            #expect(uploads.count == 1)
            #expect(uploads.first?["request_id"] == .string(a))
            #expect(uploads.first?["on_time"] == .number(1))
            #expect(uploads.first?["late"] == .number(1))
            #expect(uploads.first?["late_working_days"] == .array([.number(2)]))
            #expect(uploads.first?["missing"] == .number(1))

            // Filters: Scotland is B alone.
            let scotland = try await app.call(.get, "/api/v1/stats?from=2026-11-01&to=2026-12-08&division=scotland").json
            #expect(
                scotland["end_to_end"] == .object(["count": .number(1), "working_days": Self.summary(8, 8), "calendar_days": Self.summary(13, 13)]))
            #expect(scotland["flow"]?["months"]?.arrayValue?.first?["created"] == .number(1))
            #expect(scotland["filters"] == .object(["division": .string("scotland")]))
            let none = try await app.call(.get, "/api/v1/stats?period=2026-11&kind=non_transactional").json
            #expect(none["period"]?["months"] == .array([.string("2026-11")]))
            #expect(none["flow"]?["months"]?.arrayValue?.first?["created"] == .number(0))
            #expect(none["where_time_goes"]?["sign_off_longer_than_building"] == nil)
        }
    }

    @Test func theIntervalsAreTheHistoryReplayed() async throws {
        try await TestApp.run { app in
            _ = try await history(app)
            // The trigger's rows equal the migration's backfill rule run over the events afterwards.
            let rows = try await app.db.query(
                """
                SELECT count(*)::int8 FROM (
                    SELECT e.id, e.request_id, e.data ->> 'from',
                           e.data ->> 'from' = 'signoff_pending' AND coalesce(lag(e.data ->> 'transition') OVER w = 'approve_sign_off', false),
                           coalesce(lag(e.occurred_at) OVER w, r.created_at), e.occurred_at, e.data ->> 'transition'
                    FROM request_events e JOIN requests r ON r.id = e.request_id WHERE e.kind = 'transitioned'
                    WINDOW w AS (PARTITION BY e.request_id ORDER BY e.id)
                    EXCEPT SELECT event_id, request_id, state, approved, entered_at, left_at, left_by FROM request_intervals
                ) missing
                """, logger: Self.logger
            ).collect()
            #expect(try rows.first?.decode(Int64.self) == 0)
            #expect(try await app.count("request_intervals") == 16)
        }
    }

    @Test func badQueriesAreRefusedAndEveryRoleMayRead() async throws {
        try await TestApp.run { app in
            func problems(_ query: String) async throws -> [String] {
                let r = try await app.call(.get, "/api/v1/stats?\(query)")
                #expect(r.status == .unprocessableContent, "\(query): \(r.text)")
                return r.json["errors"]?.arrayValue?.map { "\($0["pointer"]!.stringValue!): \($0["message"]!.stringValue!)" } ?? []
            }
            #expect(
                try await problems("period=2026-13") == [
                    "/query/period: must be a month (2026-11), a quarter (2026-Q3) or a financial year (FY2025-26)"
                ])
            #expect(
                try await problems("period=FY2025-27") == [
                    "/query/period: must be a month (2026-11), a quarter (2026-Q3) or a financial year (FY2025-26)"
                ])
            #expect(try await problems("from=2026-02-30&to=2026-03-01") == ["/query/from: must be a date, YYYY-MM-DD"])
            #expect(try await problems("from=2026-03-01&to=2026-02-01") == ["/query/to: must be on or after from, and within 3660 days of it"])
            #expect(try await problems("from=2026-03-01") == ["/query/to: from and to go together"])
            #expect(try await problems("division=wales&kind=x&colour=red").count == 3)
            #expect(try await app.call(.get, "/api/v1/stats?period=FY2025-26").json["period"]?["from"] == .string("2025-04-01"))
            #expect(try await app.call(.get, "/api/v1/stats?period=2026-q3").json["period"]?["to"] == .string("2026-09-30"))
            let viewer = try await app.token(role: .viewer)
            #expect(try await app.call(.get, "/api/v1/stats", token: viewer).status == .ok)
            #expect(try await app.call(.get, "/api/v1/stats", token: "").status == .unauthorized)
        }
    }

    @Test func thePerformancePageDrawsEachChartWithItsTable() async throws {
        try await TestApp.run { app in
            _ = try await history(app)
            let cookie = try await HistoryPagingTests.adminSession(app)
            let r = try await app.call(
                .get, "/staff/performance?from=2026-11-01&to=2026-12-08", token: "", headers: [.cookie: "cb_session=\(cookie)"])
            #expect(r.status == .ok)
            let html = r.text
            #expect(html.matches(of: #/<svg class="chart"/#).count == 4)
            #expect(html.matches(of: #/<table class="table">/#).count == 8)
            #expect(!html.contains("style="))
            #expect(
                html.contains(
                    "For the 2 requests that went live in this period, sign-off took 23% of the elapsed time (4 working days in all) and "
                        + "building took 15% (2 working days): sign-off took longer than building."))
            let bad = try await app.call(.get, "/staff/performance?period=soon", token: "", headers: [.cookie: "cb_session=\(cookie)"])
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains("<a href=\"#period\">Must be a month (2026-11), a quarter (2026-Q3) or a financial year (FY2025-26)</a>"))
        }
    }
}
