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
        abstract:
            "Deliver queued emails and webhooks and run the reminder scheduler and the retention job (run any number, on any number of machines).")
    @OptionGroup var database: DatabaseOptions

    @Flag(
        name: .customLong("without-scheduler"),
        help: "Only deliver emails; do not run the reminder scheduler or the retention job in this process")
    var withoutScheduler = false

    func run() async throws {
        let settings = try database.settings()
        let logger = Logs.bootstrap(settings)
        let client = try settings.databaseClient(logger: logger)
        let worker = try makeWorker(settings, client: client, logger: logger)
        let sla = PreviewSLAHolder(try .bundled(workingDays: settings.previewSLAWorkingDays))
        let startup = StartupCheck(
            client: client, migrator: Migrator(migrations: try Migration.bundled(), logger: logger), migrate: false,
            logger: logger
        ) { sla.replace(try await .current(db: client, logger: logger, workingDays: settings.previewSLAWorkingDays)) }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: client), .init(service: startup, successTerminationBehavior: .ignore),
            .init(service: GatedService(worker, gate: startup.gate)),
        ]
        if let hooks = try makeWebhookWorker(settings, client: client, logger: logger) {
            services.append(.init(service: GatedService(hooks, gate: startup.gate)))
        }
        // First in, so last to stop: it flushes the spans of everything else's shutdown.
        if let tracing = try Traces.bootstrap(settings, logger: logger) { services.insert(.init(service: tracing), at: 0) }
        if !withoutScheduler {
            services.append(.init(service: GatedService(try makeScheduler(settings, client: client, sla: sla, logger: logger), gate: startup.gate)))
            services.append(.init(service: GatedService(makeRetention(settings, client: client, logger: logger), gate: startup.gate)))
        }
        let group = ServiceGroup(configuration: .stopsWithinTenSeconds(services, logger: logger))
        try await group.run()
    }
}

/// The reminder scheduler as `settings` configure it; shared by `worker` and `serve --with-worker`.
func makeScheduler(_ settings: Settings, client: PostgresClient, sla: PreviewSLAHolder, logger: Logger) throws -> SchedulerService {
    let outbox = EmailOutbox(settings: EmailSettings(settings), templates: try EmailTemplates.bundled())
    let scheduler = ReminderScheduler(
        db: client, time: SystemTime(), logger: logger, outbox: outbox, sla: sla, settings: SchedulerSettings(settings))
    return SchedulerService(scheduler: scheduler, logger: logger)
}

/// The retention job as `settings` configure it; shared by `worker`, `serve --with-worker` and `retention`.
func makeRetention(_ settings: Settings, client: PostgresClient, logger: Logger) -> RetentionService {
    RetentionService(db: client, time: SystemTime(), logger: logger, settings: RetentionSettings(settings))
}

/// The email worker as `settings` configure it; shared by `worker` and `serve --with-worker`.
func makeWorker(_ settings: Settings, client: PostgresClient, logger: Logger) throws -> EmailWorker {
    do {
        return EmailWorker(
            db: client, listenURL: try settings.database(), transport: try TransportConfiguration.transport(settings, logger: logger),
            settings: WorkerSettings(settings), email: EmailSettings(settings), logger: logger)
    } catch let e as TransportConfiguration.Invalid {
        throw ValidationError(e.description)
    }
}

/// The webhook worker as `settings` configure it (nil, with a warning, without a secret key: it
/// could not sign); shared by `worker` and `serve --with-worker`.
func makeWebhookWorker(_ settings: Settings, client: PostgresClient, logger: Logger) throws -> WebhookWorker? {
    let hooks = try WebhookSettings(settings)
    guard let key = hooks.secretKey else {
        logger.warning("webhook worker not started: CALLBOARD_SECRET_KEY_FILE is not set, so deliveries cannot be signed")
        return nil
    }
    return WebhookWorker(db: client, listenURL: try settings.database(), settings: hooks, key: key, logger: logger)
}
