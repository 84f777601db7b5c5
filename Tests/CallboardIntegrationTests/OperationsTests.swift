import CallboardDomain
import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import CallboardStorage

@Suite struct OpenAPIRouteTests {
    /// "METHOD /path" for every operation in the served document (a line scan of its known layout:
    /// two-space path keys under `paths:`, four-space method keys under each path).
    static func documentedOperations(_ yaml: String) -> [String] {
        var ops: [String] = []
        var inPaths = false
        var path: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" {
                inPaths = true
                continue
            }
            guard inPaths else { continue }
            if let first = line.first, first != " ", first != "#" { break }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast()).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            } else if let p = path, line.hasPrefix("    "), !line.hasPrefix("     ") {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "patch", "delete"].contains(String(key)) { ops.append("\(key.uppercased()) \(p)") }
            }
        }
        return ops.sorted()
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        try await TestApp.run { app in
            let doc = try await app.call(.get, "/api/v1/openapi.yaml", token: "")
            #expect(doc.status == .ok)
            #expect(doc.headers[.contentType] == "application/yaml; charset=utf-8")
            #expect(doc.text.hasPrefix("openapi: 3.1"))
            let documented = Self.documentedOperations(doc.text)
            #expect(documented.count >= 18)
            #expect(documented == app.catalog.routes)
        }
    }

    @Test func lineScanFindsOperations() {
        let yaml =
            "openapi: 3.1.0\npaths:\n  /a/{id}:\n    parameters: []\n    get:\n      summary: x\n    post:\n      summary: y\n  /b:\n    patch:\n      x: 1\ncomponents:\n  /c:\n    get:\n"
        #expect(Self.documentedOperations(yaml) == ["GET /a/{id}", "PATCH /b", "POST /a/{id}"])
    }
}

@Suite struct OperationsTests {
    @Test func aKnownPathWithAnotherMethodIs405WithAllow() async throws {
        try await TestApp.run { app in
            let id = UUID().uuidString.lowercased()
            let wrong = try await app.call(.delete, "/api/v1/requests/\(id)")
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.headers[.allow] == "GET, PATCH")
            #expect(wrong.problemType == "method-not-allowed")
            #expect(try await app.call(.put, "/api/v1/staff").headers[.allow] == "GET, POST")
            #expect(try await app.call(.get, "/api/v1/nothing-here").status == .notFound)
            #expect(try await app.call(.get, "/api/v1/requests/\(id)/transitions").status == .notFound)
        }
    }

    @Test func healthAndWorkflowArePublic() async throws {
        try await TestApp.run { app in
            #expect(try await app.call(.get, "/health/live", token: "").json == .object(["status": .string("ok")]))
            let ready = try await app.call(.get, "/health/ready", token: "")
            #expect(ready.status == .ok)
            #expect(ready.json["migrations"] == .string("current"))
            let wf = try await app.call(.get, "/api/v1/workflow", token: "")
            #expect(wf.json["transitions"]?.arrayValue?.count == Lifecycle.table.count)
            #expect(wf.json["mermaid"]?.stringValue == WorkflowDiagram.mermaid())
            #expect(wf.json["permissions"]?["viewer"] == .array([.string("read_requests")]))
            let goLive = wf.json["transitions"]?.arrayValue?.first { $0["name"] == .string("go_live") }
            #expect(goLive?["guards"]?.arrayValue?.map { $0["code"]!.stringValue! } == ["sign_off_approved", "live_url_known"])
        }
    }

    @Test func metricsCountRoutesAndStatesOnTheirOwnListenerOnly() async throws {
        try await TestApp.run { app in
            try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            try await app.call(.get, "/api/v1/requests/\(UUID())")
            // Not on the application's port.
            let onApp = try await app.call(.get, "/metrics", token: "")
            #expect(onApp.status == .notFound)
            #expect(!onApp.text.contains("callboard_http_requests_total"))

            let scrape = try await app.scrapeMetrics()
            #expect(scrape.status == .ok)
            #expect(scrape.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
            let text = scrape.text
            #expect(text.contains("callboard_http_requests_total{route=\"/api/v1/requests\",method=\"POST\",status=\"201\"} 1"))
            #expect(
                text.contains("callboard_http_requests_total{route=\"/api/v1/requests/{id}\",method=\"GET\",status=\"404\"} 1")
                    || text.contains("callboard_http_requests_total{route=\"/api/v1/requests/:id\",method=\"GET\",status=\"404\"} 1"))
            #expect(text.contains("callboard_requests{state=\"info_complete\"} 1"))
            #expect(text.contains("callboard_requests{state=\"requested\"} 0"))
            #expect(text.contains("callboard_http_request_duration_seconds_bucket{route=\"/api/v1/requests\",le=\"+Inf\"} 1"))
            // The metrics listener answers nothing else.
            #expect(try await app.scrapeMetrics("/health/live").status == .notFound)
            #expect(try await app.scrapeMetrics("/api/v1/requests").status == .notFound)
        }
    }

    @Test func theDatabaseCountsAreReadAtMostEveryFifteenSeconds() async throws {
        try await TestApp.run { app in
            try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            #expect(try await app.scrapeMetrics().text.contains("callboard_requests{state=\"info_complete\"} 1"))
            try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            // Within 15 s the counts are the ones read last, while the HTTP counters are live.
            app.clock.advance(by: 14)
            let cached = try await app.scrapeMetrics().text
            #expect(cached.contains("callboard_requests{state=\"info_complete\"} 1"))
            #expect(cached.contains("callboard_http_requests_total{route=\"/api/v1/requests\",method=\"POST\",status=\"201\"} 2"))
            app.clock.advance(by: 1)
            #expect(try await app.scrapeMetrics().text.contains("callboard_requests{state=\"info_complete\"} 2"))
        }
    }

    @Test func everyResponseCarriesARequestID() async throws {
        try await TestApp.run { app in
            let r = try await app.call(.get, "/health/live", token: "", headers: [HTTPField.Name("X-Request-Id")!: "trace-42"])
            #expect(r.headers[HTTPField.Name("X-Request-Id")!] == "trace-42")
            let generated = try await app.call(.get, "/nowhere", token: "")
            #expect(generated.status == .notFound)
            #expect((generated.headers[HTTPField.Name("X-Request-Id")!] ?? "").count >= 16)
        }
    }
}

@Suite struct MigrationTests {
    @Test func migrateAppliesOnceAndDetectsChanges() async throws {
        try await TestDatabase.with(migrated: false) { db, _ in
            let migrations = try Migration.bundled()
            let names = migrations.map(\.name)
            #expect(
                names == [
                    "0001_core", "0002_email_outbox", "0003_preview_sla", "0004_calendar_snapshots", "0005_data_sets", "0006_reminders", "0007_links",
                    "0008_staff_sessions", "0009_csv_uploads", "0010_item_drafts", "0011_state_entered_backfill",
                    "0012_link_tokens", "0013_rate_limits", "0014_retention", "0015_write_api", "0016_front_door", "0017_stage_history",
                    "0018_webhooks", "0019_stats_covering_indexes", "0020_request_schedule", "0021_email_body_lz4",
                ])
            let migrator = Migrator(migrations: migrations, logger: TestDatabase.logger)
            let before = try await migrator.status(db)
            #expect(before.applied == [] && before.pending == names)
            await #expect(throws: MigrationError.self) { try await migrator.requireCurrent(db) }
            #expect(try await migrator.migrate(db) == names)
            #expect(try await migrator.migrate(db) == [])
            try await migrator.requireCurrent(db)

            var edited = migrations
            edited[0].sql += "\n-- edited after release\n"
            await #expect(throws: MigrationError.self) { try await Migrator(migrations: edited, logger: TestDatabase.logger).migrate(db) }
            await #expect(throws: MigrationError.self) { try await Migrator(migrations: [], logger: TestDatabase.logger).status(db) }
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        try await TestDatabase.with(migrated: false) { db, _ in
            let migrator = Migrator(migrations: try Migration.bundled(), logger: TestDatabase.logger)
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<4 { group.addTask { try await migrator.migrate(db) } }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(applied.sorted() == migrator.migrations.map(\.name))
            let rows = try await db.query("SELECT count(*)::int8 FROM schema_migrations", logger: TestDatabase.logger).collect()
            #expect(try rows.first?.decode(Int64.self) == Int64(migrator.migrations.count))
        }
    }

    @Test func splitterKeepsFunctionBodiesWhole() {
        let sql =
            "CREATE TABLE a (x text DEFAULT ';');\n-- a comment; still a comment\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n/* block; */ SELECT 2"
        #expect(
            SQLScript.statements(sql) == [
                "CREATE TABLE a (x text DEFAULT ';')", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$", "SELECT 2",
            ])
    }
}
