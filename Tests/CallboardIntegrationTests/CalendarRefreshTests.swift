import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import PostgresNIO
import Testing

@Suite struct CalendarRefreshTests {
    /// Runs the built `callboard` with `arguments` against `url`; returns exit status and output.
    func callboard(_ arguments: [String], url: DatabaseURL) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: WorkerProcessTests.binary)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)"
        env["CALLBOARD_LOG_LEVEL"] = "error"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    @Test func aRefreshedSnapshotIsStoredOnceAndUsed() async throws {
        try await TestDatabase.with { db, url in
            // The shipped snapshot plus a made-up holiday on Thursday 19 November 2026.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            var feed = try JSONValue.parse(
                try Data(contentsOf: root.appendingPathComponent("Sources/CallboardServices/Resources/bank-holidays.json")))
            guard case .object(var all) = feed, case .object(var ew)? = all["england-and-wales"], case .array(var events)? = ew["events"] else {
                Issue.record("unexpected feed shape")
                return
            }
            events.append(.object(["title": .string("Callboard Day"), "date": .string("2026-11-19"), "notes": .string(""), "bunting": .bool(false)]))
            ew["events"] = .array(events)
            all["england-and-wales"] = .object(ew)
            feed = .object(all)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("holidays-\(UUID()).json")
            try Data(feed.serialized()).write(to: file)

            let (status, output) = try callboard(["calendar", "refresh", "--file", file.path], url: url)
            #expect(status == 0, "\(output)")
            #expect(output.hasPrefix("Stored govuk-"))
            #expect(output.contains("england-and-wales to 2028"))
            let (again, output2) = try callboard(["calendar", "refresh", "--file", file.path], url: url)
            #expect(again == 0)
            #expect(output2.contains("is already stored"))

            let settings = try await PreviewSLASettings.current(db: db, logger: TestDatabase.logger)
            #expect(settings.holidays.version != (try PreviewSLASettings.bundled()).holidays.version)
            // Wednesday 18 November + 5 working days now skips the made-up holiday too.
            let sla = PreviewSLA.start(at: Date(timeIntervalSince1970: 1_795_000_000), calendar: settings.calendar(for: "england-and-wales"))
            #expect(sla.dueDate == CivilDate(2026, 11, 26))
            #expect(sla.excluded.first?.reason == "Callboard Day")
            #expect(sla.calendarVersion == settings.holidays.version)
        }
    }

    @Test func somethingElseIsRefused() async throws {
        try await TestDatabase.with { db, url in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("not-holidays-\(UUID()).json")
            try Data("{\"hello\": 1}".utf8).write(to: file)
            let (status, output) = try callboard(["calendar", "refresh", "--file", file.path], url: url)
            #expect(status != 0)
            #expect(output.contains("Not a bank-holidays feed"))
            let rows = try await db.query("SELECT count(*)::int8 FROM calendar_snapshots", logger: TestDatabase.logger).collect()
            #expect(try rows.first?.decode(Int64.self) == 0)
        }
    }
}
