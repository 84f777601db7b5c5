import ArgumentParser
import CallboardHTTP
import CallboardServices
import CallboardStorage
import Foundation
import Hummingbird
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the admin API, pages and health over HTTP, and metrics on their own port ($CALLBOARD_METRICS_PORT).")

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "Address to listen on (default: $CALLBOARD_HOSTNAME or 127.0.0.1)")
    var hostname: String?

    @Option(name: .long, help: "Port to listen on (default: $CALLBOARD_PORT or 8080)")
    var port: Int?

    @Flag(
        name: .long,
        help: "Apply pending migrations before serving (default: $CALLBOARD_MIGRATE_ON_START, else refuse to start with pending migrations)")
    var migrate = false

    @Flag(
        name: .customLong("with-worker"),
        help: "Also deliver queued emails and run the reminder scheduler and the retention job in this process (default: $CALLBOARD_WITH_WORKER)")
    var withWorker = false

    /// These flags as settings overrides, by variable name.
    var overrides: [String: String] {
        var o: [String: String] = [:]
        if let hostname { o["CALLBOARD_HOSTNAME"] = hostname }
        if let port { o["CALLBOARD_PORT"] = String(port) }
        if migrate { o["CALLBOARD_MIGRATE_ON_START"] = "true" }
        if withWorker { o["CALLBOARD_WITH_WORKER"] = "true" }
        return o
    }

    func run() async throws {
        let settings = try database.settings(overrides)
        let logger = Logs.bootstrap(settings)
        let (host, port) = (settings.hostname, settings.port)
        let url = try settings.database()
        let client = try settings.databaseClient(logger: logger)
        let migrator = Migrator(migrations: try Migration.bundled(), logger: logger)

        let metrics = HTTPMetrics()
        // Library metrics (the email worker's sends and latencies) land in the same registry as /metrics.
        MetricsSystem.bootstrap(metrics.factory)
        let sla = PreviewSLAHolder(try .bundled(workingDays: settings.previewSLAWorkingDays))
        let monitor = DatabaseMonitor(url: url, logger: logger)
        let app = try buildApplication(
            AppDependencies(
                db: client, logger: logger, metrics: metrics, email: EmailSettings(settings), sla: sla,
                scheduler: SchedulerSettings(settings), monitor: monitor, tracing: settings.tracingEnabled,
                writeAPIMaxBytes: settings.writeAPIMaxBytes, frontDoor: FrontDoorSettings(settings), webhooks: try WebhookSettings(settings)),
            hostname: host, port: port, requestTimeoutSeconds: settings.requestTimeoutSeconds,
            idleTimeoutSeconds: settings.httpIdleTimeoutSeconds)
        let metricsApp = buildMetricsApplication(
            AppDependencies(db: client, logger: logger, metrics: metrics, monitor: monitor), hostname: settings.metricsHostname,
            port: settings.metricsPort)
        let startup = StartupCheck(client: client, migrator: migrator, migrate: settings.migrateOnStart, logger: logger) {
            // The newest bank-holiday snapshot stored by `callboard calendar refresh`, if any.
            sla.replace(try await .current(db: client, logger: logger, workingDays: settings.previewSLAWorkingDays))
            logger.info("calendar", metadata: ["version": .string(sla.current.holidays.version)])
            try await StatsService.prepareCalendar(sla.current.holidays, db: client, logger: logger)
        }
        var addresses: Logger.Metadata = ["database": .string(url.description), "address": .string("\(host):\(port)")]
        if settings.metricsPort != 0 { addresses["metrics_address"] = .string("\(settings.metricsHostname):\(settings.metricsPort)") }
        logger.info("starting", metadata: addresses)
        // The client runs first so queries can start; the check gates the HTTP server.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: client), .init(service: startup, successTerminationBehavior: .ignore),
            .init(service: monitor), .init(service: GatedService(app, gate: startup.gate)),
        ]
        // First in, so last to stop: it flushes the spans of everything else's shutdown.
        if let tracing = try Traces.bootstrap(settings, logger: logger) { services.insert(.init(service: tracing), at: 0) }
        // Metrics on their own listener (loopback by default), never on the application's port.
        if settings.metricsPort != 0 { services.append(.init(service: GatedService(metricsApp, gate: startup.gate))) }
        if settings.withWorker {
            services.append(.init(service: GatedService(try makeWorker(settings, client: client, logger: logger), gate: startup.gate)))
            if let hooks = try makeWebhookWorker(settings, client: client, logger: logger) {
                services.append(.init(service: GatedService(hooks, gate: startup.gate)))
            }
            services.append(.init(service: GatedService(try makeScheduler(settings, client: client, sla: sla, logger: logger), gate: startup.gate)))
            services.append(.init(service: GatedService(makeRetention(settings, client: client, logger: logger), gate: startup.gate)))
        }
        try await ServiceGroup(configuration: .stopsWithinTenSeconds(services, logger: logger)).run()
    }
}

/// Applies or checks migrations before the server accepts connections.
struct StartupCheck: Service {
    let client: PostgresClient
    let migrator: Migrator
    let migrate: Bool
    let logger: Logger
    /// Runs once the schema is current, before the gate opens.
    var afterMigrations: @Sendable () async throws -> Void = {}
    let gate = Gate()

    init(client: PostgresClient, migrator: Migrator, migrate: Bool, logger: Logger, afterMigrations: @escaping @Sendable () async throws -> Void = {})
    {
        self.client = client
        self.migrator = migrator
        self.migrate = migrate
        self.logger = logger
        self.afterMigrations = afterMigrations
    }

    func run() async throws {
        do {
            if migrate {
                let applied = try await migrator.migrate(client)
                logger.info("migrations applied", metadata: ["count": .stringConvertible(applied.count)])
            } else {
                try await migrator.requireCurrent(client)
            }
            try await afterMigrations()
            await gate.open()
        } catch {
            logger.critical("cannot start", metadata: ["reason": .string(String(describing: error))])
            await gate.fail()
            throw error
        }
    }
}

actor Gate {
    private var state: Bool?
    private var waiters: [CheckedContinuation<Bool, Never>] = []
    func open() { finish(true) }
    func fail() { finish(false) }
    private func finish(_ ok: Bool) {
        state = ok
        for w in waiters { w.resume(returning: ok) }
        waiters = []
    }
    func wait() async -> Bool {
        if let state { return state }
        return await withCheckedContinuation { waiters.append($0) }
    }
}

/// Runs a service only after the gate opens.
struct GatedService<S: Service>: Service {
    let service: S
    let gate: Gate
    init(_ service: S, gate: Gate) {
        self.service = service
        self.gate = gate
    }
    func run() async throws {
        guard await gate.wait() else { return }
        try await service.run()
    }
}

extension ServiceGroupConfiguration {
    /// SIGTERM/SIGINT start a graceful shutdown (in-flight requests and sends finish); whatever is
    /// still running after 8 s is cancelled, and after 1 s more the group gives up, so the process
    /// ends within 10 s even if a request waits on a database that went away.
    static func stopsWithinTenSeconds(_ services: [ServiceConfiguration], logger: Logger) -> ServiceGroupConfiguration {
        var c = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        c.maximumGracefulShutdownDuration = .seconds(8)
        c.maximumCancellationDuration = .seconds(1)
        return c
    }
}
