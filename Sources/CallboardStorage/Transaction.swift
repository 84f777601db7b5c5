import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs `body` in one transaction and rethrows the body's own error unwrapped, so that
    /// domain errors (a stale version, a refused transition) reach the caller as themselves.
    /// (PostgresNIO's `withTransaction` wraps every error in `PostgresTransactionError`, and its
    /// ROLLBACK on a connection the server closed never returns.)
    public func transaction<T: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { conn in
            try await conn.query("BEGIN", logger: logger)
            let value: T
            do {
                value = try await body(conn)
            } catch {
                // A connection the server closed needs no ROLLBACK (the server already rolled back),
                // and a query sent on it would never return; a live one gets 2 s.
                if !conn.isClosed { _ = try? await withDeadline(seconds: 2) { try await conn.query("ROLLBACK", logger: logger) } }
                throw error
            }
            // A request that ran out of time was answered 503 already: it must not commit afterwards.
            if Task.isCancelled {
                if !conn.isClosed { _ = try? await withDeadline(seconds: 2) { try await conn.query("ROLLBACK", logger: logger) } }
                throw CancellationError()
            }
            try await conn.query("COMMIT", logger: logger)
            return value
        }
    }
}
