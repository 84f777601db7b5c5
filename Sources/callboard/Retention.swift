import ArgumentParser
import CallboardServices
import CallboardStorage
import Foundation
import Logging

/// Runs the retention job once (the worker runs it every CALLBOARD_RETENTION_INTERVAL_SECONDS), or,
/// with `--dry-run`, counts what it would remove and changes nothing.
struct Retention: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete what is past its retention once (the worker does this every hour); --dry-run only counts.")
    @OptionGroup var database: DatabaseOptions

    @Flag(name: .customLong("dry-run"), help: "Print what would be removed, per kind, and change nothing")
    var dryRun = false

    func run() async throws {
        let settings = try database.settings()
        let logger = Logs.bootstrap(settings)
        let dryRun = self.dryRun
        let report = try await withDatabase(settings, logger: logger) { client in
            try await Migrator(migrations: try Migration.bundled(), logger: logger).requireCurrent(client)
            let job = makeRetention(settings, client: client, logger: logger)
            return dryRun ? try await job.preview() : try await job.purge()
        }
        print(dryRun ? "dry run: nothing was changed; a run now would remove:" : "removed:")
        for line in report.lines { print("  " + line) }
    }
}
