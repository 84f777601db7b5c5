import ArgumentParser
import CallboardServices
import CallboardStorage
import Logging

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations (safe to run from several instances at once).")

    @OptionGroup var database: DatabaseOptions

    @Flag(name: .long, help: "Only list applied and pending migrations")
    var status = false

    func run() async throws {
        let settings = try database.settings()
        let logger = Logs.bootstrap(settings)
        let migrator = Migrator(migrations: try Migration.bundled(), logger: logger)
        let status = self.status
        try await withDatabase(settings, logger: logger) { client in
            if status {
                let s = try await migrator.status(client)
                for name in s.applied { print("applied  \(name)") }
                for name in s.pending { print("pending  \(name)") }
            } else {
                let applied = try await migrator.migrate(client)
                print(applied.isEmpty ? "Database is current." : "Applied: " + applied.joined(separator: ", "))
            }
        }
    }
}
