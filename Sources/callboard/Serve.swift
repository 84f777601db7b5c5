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
    static let configuration = CommandConfiguration(abstract: "Serve the admin API, health and metrics over HTTP.")

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "Address to listen on (default: $CALLBOARD_HOSTNAME or 127.0.0.1)")
    var hostname: String?

    @Option(name: .long, help: "Port to listen on (default: $CALLBOARD_PORT or 8080)")
    var port: Int?

    @Flag(name: .long, help: "Apply pending migrations before serving (default: refuse to start with pending migrations)")
    var migrate = false

    @Flag(name: .customLong("with-worker"), help: "Also deliver queued emails and run the reminder scheduler in this process (one-process setups)")
    var withWorker = false

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let logger = Logs.bootstrap()
        let host = hostname ?? env["CALLBOARD_HOSTNAME"] ?? "127.0.0.1"
        let port = port ?? env["CALLBOARD_PORT"].flatMap(Int.init) ?? 8080
        let url = try database.url()
        let client = try database.client(logger: logger, keepOpen: true)
        let migrator = Migrator(migrations: try Migration.bundled(), logger: logger)
        let wantMigrate = migrate || env["CALLBOARD_MIGRATE_ON_START"] == "true"

        let metrics = HTTPMetrics()
        // Library metrics (the email worker's sends and latencies) land in the same registry as /metrics.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
        let sla = PreviewSLAHolder(try .fromEnvironment())
        let schedulerSettings: SchedulerSettings
        do { schedulerSettings = try .fromEnvironment() } catch let e as SchedulerSettings.Invalid { throw ValidationError(e.description) }
        let app = try buildApplication(
            AppDependencies(
                db: client, logger: logger, metrics: metrics, email: .fromEnvironment(), sla: sla,
                scheduler: schedulerSettings),
            hostname: host, port: port)
        let startup = StartupCheck(client: client, migrator: migrator, migrate: wantMigrate, logger: logger) {
            // The newest bank-holiday snapshot stored by `callboard calendar refresh`, if any.
            sla.replace(try await .current(db: client, logger: logger))
            logger.info("calendar", metadata: ["version": .string(sla.current.holidays.version)])
        }
        logger.info("starting", metadata: ["database": .string(url.description), "address": .string("\(host):\(port)")])
        // The client runs first so queries can start; the check gates the HTTP server.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: client), .init(service: startup, successTerminationBehavior: .ignore),
            .init(service: GatedService(app, gate: startup.gate)),
        ]
        if withWorker || env["CALLBOARD_WITH_WORKER"] == "true" {
            services.append(.init(service: GatedService(try makeWorker(client: client, url: url, logger: logger), gate: startup.gate)))
            services.append(.init(service: GatedService(try makeScheduler(client: client, sla: sla, logger: logger), gate: startup.gate)))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
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
