import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import Synchronization

/// `GET /metrics`, Prometheus text, served by `serve` on its own address
/// (`CALLBOARD_METRICS_HOSTNAME`:`CALLBOARD_METRICS_PORT`, loopback by default), never on the
/// application's port. Everything else there is 404.
public func buildMetricsRouter(_ deps: AppDependencies) -> Router<BasicRequestContext> {
    let gauges = DatabaseGauges(db: deps.db, time: deps.time, logger: deps.logger, metrics: deps.metrics, monitor: deps.monitor)
    let router = Router(context: BasicRequestContext.self)
    router.get("/metrics") { _, _ in
        await gauges.refreshIfStale()
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: deps.metrics.registry.emitToBuffer())))
    }
    return router
}

/// The metrics listener `serve` runs beside the application.
public func buildMetricsApplication(_ deps: AppDependencies, hostname: String, port: Int) -> some ApplicationProtocol {
    Application(
        router: buildMetricsRouter(deps),
        server: .http1(configuration: .init(idleTimeout: .seconds(30))),
        configuration: .init(address: .hostname(hostname, port: port), serverName: "callboard-metrics"),
        services: [],
        logger: deps.logger)
}

/// The gauges read from the database (requests by state, the email queue): counted at most once
/// every `maxAge` seconds on the application's clock, whoever scrapes and however often. A scrape
/// that finds the counts fresh, or another scrape already counting, answers with the last counts
/// at once; so does one while PostgreSQL does not answer (counting gives up after 2 s).
final class DatabaseGauges: Sendable {
    static let maxAge: TimeInterval = 15

    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let metrics: HTTPMetrics
    let monitor: DatabaseMonitor?
    private let state = Mutex<(countedAt: Date?, counting: Bool)>((nil, false))

    init(db: PostgresClient, time: any TimeSource, logger: Logger, metrics: HTTPMetrics, monitor: DatabaseMonitor?) {
        self.db = db
        self.time = time
        self.logger = logger
        self.metrics = metrics
        self.monitor = monitor
    }

    func refreshIfStale() async {
        let now = time.now()
        let claimed = state.withLock { s -> Bool in
            if s.counting { return false }
            if let at = s.countedAt, now.timeIntervalSince(at) < Self.maxAge { return false }
            s.counting = true
            return true
        }
        guard claimed else { return }
        var counted = false
        if monitor?.isUp ?? true {
            let (db, logger, metrics) = (self.db, self.logger, self.metrics)
            do {
                try await withDeadline(seconds: 2) {
                    metrics.setRequestsByState(try await RequestStore.countByState(on: db, logger: logger))
                    // Queue depth comes from the database, so it is right whichever process runs the workers.
                    let stats = try await EmailStore.stats(at: now, on: db, logger: logger)
                    metrics.setEmailQueue(stats.byStatus, oldestQueuedSeconds: stats.oldestQueuedSeconds)
                }
                counted = true
            } catch {
                logger.warning("metrics: counting failed", metadata: ["error": .string(String(describing: error))])
            }
        }
        state.withLock { s in
            s.counting = false
            if counted { s.countedAt = now }
        }
    }
}
