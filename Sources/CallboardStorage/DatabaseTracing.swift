import Tracing

/// Spans for database work. PostgresNIO 1.33 traces nothing itself, so statements are wrapped where
/// that is cheap: `BEGIN`/`COMMIT`/`ROLLBACK` here in `transaction`, and the email worker's and the
/// scheduler's main statements where they call them. Spans carry the statement's summary
/// (`UPDATE emails`), never its text or values (they hold tokens and personal data).
public enum DatabaseSpan {
    /// One statement (or one batch of the same statement), as a client span named by its summary.
    public static func statement<T>(
        _ summary: String, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T
    ) async throws -> T {
        try await withSpan(summary, ofKind: .client) { span in
            span.attributes["db.system.name"] = "postgresql"
            span.attributes["db.query.summary"] = summary
            return try await body()
        }
    }
}
