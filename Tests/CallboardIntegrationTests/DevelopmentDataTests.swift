import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import PostgresNIO
import Testing

/// `seed`, `bench-scheduler` and `probe` refuse a database holding requests they did not create,
/// unless forced. (e2e/api/test_dev_commands.py runs the binary: exit code, message, nothing written.)
@Suite struct DevelopmentDataTests {
    static let logger = TestDatabase.logger

    static func service(_ app: TestApp) throws -> RequestService {
        RequestService(
            db: app.db, time: app.clock, logger: logger, outbox: EmailOutbox(settings: EmailSettings(), templates: try EmailTemplates.bundled()),
            sla: try PreviewSLAHolder(.bundled()))
    }

    /// A request `callboard seed` would make: created through the service by its marker address.
    static func seeded(_ app: TestApp) async throws {
        _ = try await service(app).create(Items.request(Items.all), by: Principal(actor: .admin, email: "seed@callboard.local"))
    }

    @Test func eachCommandCountsOnlyOthersRequests() async throws {
        try await TestApp.run { app in
            #expect(try await DevelopmentData.seed.foreignRequests(on: app.db, logger: Self.logger) == 0)
            #expect(try await DevelopmentData.probe.foreignRequests(on: app.db, logger: Self.logger) == 0)
            try await Self.seeded(app)
            try await Self.seeded(app)
            #expect(try await DevelopmentData.seed.foreignRequests(on: app.db, logger: Self.logger) == 0)
            try await DevelopmentData.seed.requireOwnData(force: false, database: "db", on: app.db, logger: Self.logger)

            // One request made over the API (by a staff member, recorded by id), one as bench-scheduler makes them.
            #expect(try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all)).status == .created)
            _ = try await Self.service(app).create(
                Items.request(["contact": Items.contact], department: "Bench"), by: Principal(actor: .admin, email: "bench@callboard.local"))
            #expect(try await DevelopmentData.seed.foreignRequests(on: app.db, logger: Self.logger) == 2)
            #expect(try await DevelopmentData.benchScheduler.foreignRequests(on: app.db, logger: Self.logger) == 3)
            #expect(try await DevelopmentData.probe.foreignRequests(on: app.db, logger: Self.logger) == 4)
        }
    }

    @Test func aDatabaseWithAnAPIRequestIsRefusedUnlessForced() async throws {
        try await TestApp.run { app in
            #expect(try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all)).status == .created)
            let url = "postgres://postgres@127.0.0.1:5432/callboard"
            for guardian in [DevelopmentData.seed, .benchScheduler, .probe] {
                let refused = await #expect(throws: ForeignDataRefused.self) {
                    try await guardian.requireOwnData(force: false, database: url, on: app.db, logger: Self.logger)
                }
                #expect(refused == ForeignDataRefused(command: guardian.command, database: url, foreignRequests: 1))
                try await guardian.requireOwnData(force: true, database: url, on: app.db, logger: Self.logger)
            }
            #expect(
                ForeignDataRefused(command: "seed", database: url, foreignRequests: 1).description
                    == "refusing to run `callboard seed`: postgres://postgres@127.0.0.1:5432/callboard holds 1 request it did not create, "
                    + "so it may be a real database. Nothing was written. Point DATABASE_URL (or --database-url) at a development database, "
                    + "or pass --force to run there anyway.")
            #expect(ForeignDataRefused(command: "probe", database: url, foreignRequests: 2).description.contains("holds 2 requests it did not"))
        }
    }

    /// `seed`'s back-dated year: through the real services on a clock moved day by day, spanning
    /// at least 11 months, every stage passed by some request, its emails cancelled, the same every run.
    @Test func theBackDatedHistorySpansAYearThroughEveryStage() async throws {
        try await TestApp.run { app in
            let end = app.clock.now()
            let history = DemoHistory(
                db: app.db, logger: Self.logger, outbox: EmailOutbox(settings: EmailSettings(), templates: try EmailTemplates.bundled()),
                sla: try PreviewSLAHolder(.bundled()), count: 60, staffEmail: "seed@callboard.local")
            let summary = try await history.run(until: end)
            #expect(summary.requests == 60)
            let cancelled = try await DevelopmentData.seed.cancelQueuedEmails(at: end, on: app.db, logger: Self.logger)
            #expect(cancelled > 0)
            func number(_ sql: String) async throws -> Int {
                let rows = try await app.db.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger)
                for try await n in rows.decode(Int64.self) { return Int(n) }
                return -1
            }
            #expect(try await number("SELECT count(*) FROM emails WHERE status = 'queued'") == 0)
            #expect(try await DevelopmentData.seed.foreignRequests(on: app.db, logger: Self.logger) == 0)
            let days = try await number("SELECT (extract(epoch FROM max(created_at) - min(created_at)) / 86400)::int8 FROM requests")
            #expect(days >= 335, "created over \(days) days")
            #expect(try await number("SELECT count(*) FROM request_events WHERE occurred_at > '\(Timestamp.rfc3339(end))'") == 0)
            // Each request's history is in time order (the clock only moves forward).
            #expect(
                try await number(
                    """
                    SELECT count(*) FROM (SELECT occurred_at < lag(occurred_at) OVER (ORDER BY id) AS back FROM request_events) t WHERE back
                    """) == 0)
            for transition in [
                "complete_information", "request_sign_off", "approve_sign_off", "mark_built", "publish_preview", "go_live",
                "reopen_information", "request_changes", "withdraw",
            ] {
                #expect(
                    try await number("SELECT count(*) FROM request_events WHERE data->>'transition' = '\(transition)'") > 0, "\(transition)")
            }
            #expect(try await number("SELECT count(DISTINCT division) FROM requests") == 3)
            #expect(try await number("SELECT count(*) FROM data_set_uploads") > 0)
            #expect(try await number("SELECT count(*) FROM reminders") > 0)
            // Sign-off is longer than building on average, as in real life.
            let signOff = try await number(
                """
                SELECT avg(extract(epoch FROM a.occurred_at - s.occurred_at))::int8 FROM request_events a
                JOIN LATERAL (SELECT occurred_at FROM request_events s WHERE s.request_id = a.request_id AND s.id < a.id
                    AND s.data->>'transition' = 'request_sign_off' ORDER BY s.id DESC LIMIT 1) s ON true
                WHERE a.data->>'transition' = 'approve_sign_off'
                """)
            let build = try await number(
                """
                SELECT avg(extract(epoch FROM b.occurred_at - a.occurred_at))::int8 FROM request_events b
                JOIN LATERAL (SELECT occurred_at FROM request_events a WHERE a.request_id = b.request_id AND a.id < b.id
                    AND a.data->>'transition' = 'approve_sign_off' ORDER BY a.id DESC LIMIT 1) a ON true
                WHERE b.data->>'transition' = 'mark_built'
                """)
            #expect(signOff > build)
            // The same history every run (a fixed seed): the same counts again on a second run.
            let again = try await history.run(until: end)
            #expect(again == summary)
        }
    }
}
