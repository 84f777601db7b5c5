import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs `body` in one transaction and rethrows the body's own error unwrapped, so that
    /// domain errors (a stale version, a refused transition) reach the caller as themselves.
    public func transaction<T: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { conn in
            try await conn.query("BEGIN", logger: logger)
            let value: T
            do {
                value = try await body(conn)
            } catch {
                _ = try? await conn.query("ROLLBACK", logger: logger)
                throw error
            }
            try await conn.query("COMMIT", logger: logger)
            return value
        }
    }
}
