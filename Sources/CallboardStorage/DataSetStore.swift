import CallboardDomain
import Foundation
import Logging
import PostgresNIO

public struct Uploader: Sendable, Equatable {
    public var name: String
    public var email: String
    public init(name: String, email: String) {
        self.name = name
        self.email = email
    }
}

public struct DataSetRecord: Sendable, Equatable {
    public var id: UUID
    public var requestID: UUID
    public var name: String
    public var schedule: UploadSchedule
    public var uploaders: [Uploader]
    /// The columns an uploaded CSV must have besides `_timestamp`.
    public var fields: [String]
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, requestID: UUID, name: String, schedule: UploadSchedule, uploaders: [Uploader], fields: [String] = [],
        createdAt: Date, updatedAt: Date
    ) {
        self.fields = fields
        self.id = id
        self.requestID = requestID
        self.name = name
        self.schedule = schedule
        self.uploaders = uploaders
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct UploadRecord: Sendable, Equatable {
    public var id: UUID
    public var dataSetID: UUID
    public var period: Period
    public var receivedAt: Date
    public var source: String
    public var note: String

    public init(id: UUID, dataSetID: UUID, period: Period, receivedAt: Date, source: String, note: String) {
        self.id = id
        self.dataSetID = dataSetID
        self.period = period
        self.receivedAt = receivedAt
        self.source = source
        self.note = note
    }
}

public enum DataSetStore {
    static func uploadersJSON(_ u: [Uploader]) -> String {
        JSONValue.array(u.map { .object(["name": .string($0.name), "email": .string($0.email)]) }).serializedString
    }

    /// False when the request already has a data set of that name.
    public static func insert(_ d: DataSetRecord, on conn: PostgresConnection, logger: Logger) async throws -> Bool {
        try await conn.query(
            """
            INSERT INTO data_sets (id, request_id, name, cadence, due_working_days, uploaders, fields, created_at, updated_at, next_reminder_at)
            VALUES (\(d.id), \(d.requestID), \(d.name), \(d.schedule.cadence.rawValue), \(d.schedule.dueWorkingDaysAfterPeriod),
                    \(uploadersJSON(d.uploaders))::jsonb, \(d.fields), \(d.createdAt), \(d.updatedAt), \(d.createdAt))
            ON CONFLICT (request_id, name) DO NOTHING RETURNING id
            """, logger: logger
        ).collect().count == 1
    }

    /// False when the new name is taken by another data set of the request.
    public static func update(_ d: DataSetRecord, on conn: PostgresConnection, logger: Logger) async throws -> Bool {
        guard
            try await conn.query(
                """
                SELECT 1 FROM data_sets WHERE request_id = \(d.requestID) AND name = \(d.name) AND id <> \(d.id)
                """, logger: logger
            ).collect().isEmpty
        else { return false }
        try await conn.query(
            """
            UPDATE data_sets SET name = \(d.name), cadence = \(d.schedule.cadence.rawValue), due_working_days = \(d.schedule.dueWorkingDaysAfterPeriod),
                   uploaders = \(uploadersJSON(d.uploaders))::jsonb, fields = \(d.fields), updated_at = \(d.updatedAt),
                   next_reminder_at = \(d.updatedAt)
            WHERE id = \(d.id)
            """, logger: logger)
        return true
    }

    public static func list(requestID: UUID, on client: PostgresClient, logger: Logger) async throws -> [DataSetRecord] {
        try await decode(
            client.query(
                """
                SELECT id, request_id, name, cadence, due_working_days, uploaders::text, created_at, updated_at, fields
                FROM data_sets WHERE request_id = \(requestID) ORDER BY created_at, id
                """, logger: logger))
    }

    public static func fetch(_ id: UUID, on client: PostgresClient, logger: Logger) async throws -> DataSetRecord? {
        try await decode(
            client.query(
                """
                SELECT id, request_id, name, cadence, due_working_days, uploaders::text, created_at, updated_at, fields FROM data_sets WHERE id = \(id)
                """, logger: logger)
        ).first
    }

    /// Records the upload, settles the data set's open reminders for that period and earlier ones
    /// (cancelling their queued emails) and has the scheduler look at the data set again.
    public static func recordUpload(
        _ u: UploadRecord, actorID: String?, rowCount: Int? = nil, content: String? = nil,
        on conn: PostgresConnection, logger: Logger
    ) async throws {
        // Lock the data set first: a scheduler batch holding it commits its reminders before the
        // settling below (a later statement, so it sees them) looks for them.
        try await conn.query("UPDATE data_sets SET next_reminder_at = \(u.receivedAt) WHERE id = \(u.dataSetID)", logger: logger)
        try await ReminderStore.settle(dataSetID: u.dataSetID, throughPeriod: u.period.start, at: u.receivedAt, on: conn, logger: logger)
        try await conn.query(
            """
            INSERT INTO data_set_uploads (id, data_set_id, period_start, period_end, received_at, source, actor_id, note, row_count, content)
            VALUES (\(u.id), \(u.dataSetID), \(u.period.start.description)::date, \(u.period.end.description)::date, \(u.receivedAt), \(u.source),
                    \(actorID), \(u.note), \(rowCount), \(content))
            """, logger: logger)
    }

    /// The latest upload of each data set (by period, then arrival).
    public static func latestUploads(_ ids: [UUID], on client: PostgresClient, logger: Logger) async throws -> [UUID: UploadRecord] {
        guard !ids.isEmpty else { return [:] }
        var out: [UUID: UploadRecord] = [:]
        for try await (id, ds, start, end, at, source, note) in try await client.query(
            """
            SELECT DISTINCT ON (data_set_id) id, data_set_id, period_start::text, period_end::text, received_at, source, note
            FROM data_set_uploads WHERE data_set_id = ANY(\(ids)) ORDER BY data_set_id, period_start DESC, received_at DESC
            """, logger: logger
        ).decode((UUID, UUID, String, String, Date, String, String).self) {
            guard let s = CivilDate(iso: start), let e = CivilDate(iso: end) else { continue }
            out[ds] = UploadRecord(id: id, dataSetID: ds, period: Period(start: s, end: e), receivedAt: at, source: source, note: note)
        }
        return out
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [DataSetRecord] {
        var out: [DataSetRecord] = []
        for try await (id, rid, name, cadence, days, uploaders, created, updated, fields) in rows.decode(
            (UUID, UUID, String, String, Int, String, Date, Date, [String]).self)
        {
            out.append(
                record(
                    id: id, requestID: rid, name: name, cadence: cadence, dueDays: days, uploaders: uploaders, fields: fields,
                    created: created, updated: updated))
        }
        return out
    }

    static func record(
        id: UUID, requestID: UUID, name: String, cadence: String, dueDays: Int, uploaders: String, fields: [String] = [],
        created: Date, updated: Date
    ) -> DataSetRecord {
        let list = ((try? JSONValue.parse(uploaders))?.arrayValue ?? []).compactMap { v -> Uploader? in
            guard let n = v["name"]?.stringValue, let e = v["email"]?.stringValue else { return nil }
            return Uploader(name: n, email: e)
        }
        return DataSetRecord(
            id: id, requestID: requestID, name: name,
            schedule: UploadSchedule(cadence: Cadence(rawValue: cadence) ?? .monthly, dueWorkingDaysAfterPeriod: dueDays),
            uploaders: list, fields: fields, createdAt: created, updatedAt: updated)
    }
}
