import CallboardStorage
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Knows whether PostgreSQL answers, by asking it `SELECT 1` every second with a 1 s deadline on a
/// connection of its own: a busy pool is not an outage, so the probe does not queue behind requests.
/// While PostgreSQL does not answer, the HTTP server answers 503 at once instead of queueing
/// requests in the pool (which waits for a connection as long as the outage lasts), and readiness
/// says so.
public final class DatabaseMonitor: Service, Sendable {
    let url: DatabaseURL
    let logger: Logger
    let interval: Double
    private let up = Atomic<Bool>(true)

    public init(url: DatabaseURL, logger: Logger, interval: Double = 1) {
        self.url = url
        self.logger = logger
        self.interval = interval
    }

    public var isUp: Bool { up.load(ordering: .relaxed) }

    /// A request saw the database fail: answer 503 until the next probe succeeds.
    public func reportFailure() { set(false) }

    public func run() async throws {
        let (url, logger) = (self.url, self.logger)
        await cancelWhenGracefulShutdown {
            var connection: PostgresConnection?
            var nextID = 1
            while !Task.isCancelled {
                do {
                    let conn: PostgresConnection
                    if let open = connection, !open.isClosed {
                        conn = open
                    } else {
                        let id = nextID
                        nextID += 1
                        conn = try await withDeadline(seconds: 1) {
                            try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: id, logger: logger)
                        }
                        connection = conn
                    }
                    _ = try await withDeadline(seconds: 1) { try await conn.query("SELECT 1", logger: logger).collect() }
                    self.set(true)
                } catch {
                    self.set(false)
                    if let broken = connection { Task { try? await broken.close() } }
                    connection = nil
                }
                try? await Task.sleep(nanoseconds: UInt64((self.isUp ? self.interval : 0.25) * 1e9))
            }
            try? await connection?.close()
        }
    }

    private func set(_ value: Bool) {
        let was = up.exchange(value, ordering: .relaxed)
        if was != value {
            if value { logger.notice("database reachable again") } else { logger.warning("database unreachable") }
        }
    }
}
