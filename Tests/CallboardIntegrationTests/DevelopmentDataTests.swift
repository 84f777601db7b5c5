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
}
