import Logging
import PostgresNIO
import Tracing

extension PostgresClient {
    /// Runs `body` in one transaction and rethrows the body's own error unwrapped, so that
    /// domain errors (a stale version, a refused transition) reach the caller as themselves.
    /// (PostgresNIO's `withTransaction` wraps every error in `PostgresTransactionError`, and its
    /// ROLLBACK on a connection the server closed never returns.)
    ///
    /// Traced as a `transaction` span (waiting for a connection included) with `BEGIN`, `COMMIT`
    /// and `ROLLBACK` statement spans; the body's own statements are not traced one by one.
    public func transaction<T: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withSpan("transaction", ofKind: .client) { span in
            span.attributes["db.system.name"] = "postgresql"
            return try await untracedTransaction(logger: logger, body)
        }
    }

    private func untracedTransaction<T: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { conn in
            try await DatabaseSpan.statement("BEGIN") { try await conn.query("BEGIN", logger: logger) }
            let value: T
            do {
                value = try await body(conn)
            } catch {
                // A connection the server closed needs no ROLLBACK (the server already rolled back),
                // and a query sent on it would never return; a live one gets 2 s.
                if !conn.isClosed { await rollback(conn, logger: logger) }
                throw error
            }
            // A request that ran out of time was answered 503 already: it must not commit afterwards.
            if Task.isCancelled {
                if !conn.isClosed { await rollback(conn, logger: logger) }
                throw CancellationError()
            }
            try await DatabaseSpan.statement("COMMIT") { try await conn.query("COMMIT", logger: logger) }
            return value
        }
    }

    /// ROLLBACK on a live connection, given 2 s.
    private func rollback(_ conn: PostgresConnection, logger: Logger) async {
        _ = try? await withDeadline(seconds: 2) {
            try await DatabaseSpan.statement("ROLLBACK") { try await conn.query("ROLLBACK", logger: logger) }
        }
    }
}
