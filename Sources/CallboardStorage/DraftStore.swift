import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// Unfinished answers to one item of a request (form field id → text).
public enum DraftStore {
    public static func save(
        requestID: UUID, item: ItemName, answers: [String: String], at now: Date, on client: PostgresClient,
        logger: Logger
    ) async throws {
        let json = JSONValue.object(answers.mapValues(JSONValue.string)).serializedString
        try await client.query(
            """
            INSERT INTO item_drafts (request_id, item, answers, updated_at) VALUES (\(requestID), \(item.rawValue), \(json)::jsonb, \(now))
            ON CONFLICT (request_id, item) DO UPDATE SET answers = EXCLUDED.answers, updated_at = EXCLUDED.updated_at
            """, logger: logger)
    }

    public static func all(requestID: UUID, on client: PostgresClient, logger: Logger) async throws -> [ItemName: [String: String]] {
        var out: [ItemName: [String: String]] = [:]
        for try await (item, answers) in try await client.query(
            "SELECT item, answers::text FROM item_drafts WHERE request_id = \(requestID)", logger: logger
        ).decode((String, String).self) {
            guard let name = ItemName(rawValue: item), let obj = (try? JSONValue.parse(answers))?.objectValue else { continue }
            out[name] = obj.compactMapValues(\.stringValue)
        }
        return out
    }

    public static func delete(requestID: UUID, item: ItemName, on client: PostgresClient, logger: Logger) async throws {
        try await client.query("DELETE FROM item_drafts WHERE request_id = \(requestID) AND item = \(item.rawValue)", logger: logger)
    }
}
