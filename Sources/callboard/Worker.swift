import ArgumentParser
import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deliver queued emails and run the reminder scheduler (run any number, on any number of machines).")
    @OptionGroup var database: DatabaseOptions

    @Flag(name: .customLong("without-scheduler"), help: "Only deliver emails; do not run the reminder scheduler in this process")
    var withoutScheduler = false

    func run() async throws {
        let logger = Logs.bootstrap()
        let client = try database.client(logger: logger, keepOpen: true)
        let worker = try makeWorker(client: client, url: try database.url(), logger: logger)
        let sla = PreviewSLAHolder(try .fromEnvironment())
        let startup = StartupCheck(
            client: client, migrator: Migrator(migrations: try Migration.bundled(), logger: logger), migrate: false,
            logger: logger
        ) { sla.replace(try await .current(db: client, logger: logger)) }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: client), .init(service: startup, successTerminationBehavior: .ignore),
            .init(service: GatedService(worker, gate: startup.gate)),
        ]
        if !withoutScheduler {
            services.append(.init(service: GatedService(try makeScheduler(client: client, sla: sla, logger: logger), gate: startup.gate)))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The reminder scheduler as configured by the environment; shared by `worker` and `serve --with-worker`.
func makeScheduler(client: PostgresClient, sla: PreviewSLAHolder, logger: Logger) throws -> SchedulerService {
    do {
        let outbox = EmailOutbox(settings: .fromEnvironment(), templates: try EmailTemplates.bundled())
        let scheduler = ReminderScheduler(
            db: client, time: SystemTime(), logger: logger, outbox: outbox, sla: sla,
            settings: try .fromEnvironment())
        return SchedulerService(scheduler: scheduler, logger: logger)
    } catch let e as SchedulerSettings.Invalid {
        throw ValidationError(e.description)
    }
}

/// The email worker as configured by the environment; shared by `worker` and `serve --with-worker`.
func makeWorker(client: PostgresClient, url: DatabaseURL, logger: Logger) throws -> EmailWorker {
    do {
        return EmailWorker(
            db: client, listenURL: url, transport: try TransportConfiguration.fromEnvironment(logger: logger),
            settings: TransportConfiguration.workerSettings(), email: .fromEnvironment(), logger: logger)
    } catch let e as TransportConfiguration.Invalid {
        throw ValidationError(e.description)
    }
}
