import CallboardStorage
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Knows whether PostgreSQL answers, by asking it `SELECT 1` every second with a 1 s deadline.
/// While it does not, the HTTP server answers 503 at once instead of queueing requests in the
/// pool (which waits for a connection as long as the outage lasts), and readiness says so.
public final class DatabaseMonitor: Service, Sendable {
    let db: PostgresClient
    let logger: Logger
    let interval: Double
    private let up = Atomic<Bool>(true)

    public init(db: PostgresClient, logger: Logger, interval: Double = 1) {
        self.db = db
        self.logger = logger
        self.interval = interval
    }

    public var isUp: Bool { up.load(ordering: .relaxed) }

    /// A request saw the database fail: answer 503 until the next probe succeeds.
    public func reportFailure() { set(false) }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let db = self.db
                let logger = self.logger
                let ok = (try? await withDeadline(seconds: 1) { try await db.query("SELECT 1", logger: logger).collect() }) != nil
                self.set(ok)
                try? await Task.sleep(nanoseconds: UInt64((ok ? self.interval : 0.25) * 1e9))
            }
        }
    }

    private func set(_ value: Bool) {
        let was = up.exchange(value, ordering: .relaxed)
        if was != value {
            if value { logger.notice("database reachable again") } else { logger.warning("database unreachable") }
        }
    }
}
