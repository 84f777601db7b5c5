import ArgumentParser
import CallboardServices
import CallboardStorage
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deliver queued emails (run any number, on any number of machines).")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = Logs.bootstrap()
        let client = try database.client(logger: logger, keepOpen: true)
        let worker = try makeWorker(client: client, url: try database.url(), logger: logger)
        let startup = StartupCheck(client: client, migrator: Migrator(migrations: try Migration.bundled(), logger: logger), migrate: false, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: client), .init(service: startup, successTerminationBehavior: .ignore),
                       .init(service: GatedService(worker, gate: startup.gate))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The email worker as configured by the environment; shared by `worker` and `serve --with-worker`.
func makeWorker(client: PostgresClient, url: DatabaseURL, logger: Logger) throws -> EmailWorker {
    do {
        return EmailWorker(db: client, listenURL: url, transport: try TransportConfiguration.fromEnvironment(logger: logger),
                           settings: TransportConfiguration.workerSettings(), email: .fromEnvironment(), logger: logger)
    } catch let e as TransportConfiguration.Invalid {
        throw ValidationError(e.description)
    }
}
