import Foundation
import Logging
import PostgresNIO

/// Bank-holiday snapshots (the GOV.UK feed's JSON as received), newest last.
public enum CalendarStore {
    /// Stores a snapshot; false when that version is already stored.
    public static func save(version: String, source: String, body: String, at now: Date, on client: PostgresClient, logger: Logger) async throws
        -> Bool
    {
        try await client.query(
            """
            INSERT INTO calendar_snapshots (version, source, body, created_at) VALUES (\(version), \(source), \(body), \(now))
            ON CONFLICT (version) DO NOTHING RETURNING version
            """, logger: logger
        ).collect().count == 1
    }

    /// The newest stored snapshot's body, if any.
    public static func latest(on client: PostgresClient, logger: Logger) async throws -> String? {
        try await client.query("SELECT body FROM calendar_snapshots ORDER BY created_at DESC, version LIMIT 1", logger: logger)
            .collect().first?.decode(String.self)
    }
}
