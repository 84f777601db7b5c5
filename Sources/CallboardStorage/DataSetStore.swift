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

/// Where the write API takes a data set's records: `/data/{group}/{type}`.
public struct WritePath: Sendable, Equatable, Hashable {
    public var group: String
    public var type: String
    public init(group: String, type: String) {
        self.group = group
        self.type = type
    }
    public var path: String { "/data/\(group)/\(type)" }
}

/// The latest write of records (write API or CSV page).
public struct LastWrite: Sendable, Equatable {
    public var at: Date
    public var records: Int
    public var source: String
    public var tokenID: UUID?
}

public struct DataSetRecord: Sendable, Equatable {
    public var id: UUID
    public var requestID: UUID
    public var name: String
    public var schedule: UploadSchedule
    public var uploaders: [Uploader]
    /// The fields a record may have (a CSV must have) besides `_id` and `_timestamp`.
    public var fields: [DataField]
    public var writePath: WritePath?
    /// Never readable without a token, even once live.
    public var isPrivate: Bool
    public var lastWrite: LastWrite?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, requestID: UUID, name: String, schedule: UploadSchedule, uploaders: [Uploader], fields: [DataField] = [],
        writePath: WritePath? = nil, isPrivate: Bool = false, lastWrite: LastWrite? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.fields = fields
        self.writePath = writePath
        self.isPrivate = isPrivate
        self.lastWrite = lastWrite
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

    static func fieldsJSON(_ f: [DataField]) -> String {
        JSONValue.array(f.map { .object(["name": .string($0.name), "type": .string($0.type.rawValue)]) }).serializedString
    }

    static func fields(_ json: String) -> [DataField] {
        ((try? JSONValue.parse(json))?.arrayValue ?? []).compactMap { v in
            guard let n = v["name"]?.stringValue, let t = v["type"]?.stringValue.flatMap(FieldType.init(rawValue:)) else { return nil }
            return DataField(n, t)
        }
    }

    public enum WriteOutcome: Sendable, Equatable {
        case done
        case nameTaken
        case writePathTaken
    }

    /// Refused when the request already has a data set of that name, or the write path is another's.
    public static func insert(_ d: DataSetRecord, on conn: PostgresConnection, logger: Logger) async throws -> WriteOutcome {
        if let taken = try await conflict(d, on: conn, logger: logger) { return taken }
        try await conn.query(
            """
            INSERT INTO data_sets (id, request_id, name, cadence, due_working_days, uploaders, fields, data_group, data_type, private,
                                   created_at, updated_at, next_reminder_at)
            VALUES (\(d.id), \(d.requestID), \(d.name), \(d.schedule.cadence.rawValue), \(d.schedule.dueWorkingDaysAfterPeriod),
                    \(uploadersJSON(d.uploaders))::jsonb, \(fieldsJSON(d.fields))::jsonb, \(d.writePath?.group), \(d.writePath?.type),
                    \(d.isPrivate), \(d.createdAt), \(d.updatedAt), \(d.createdAt))
            """, logger: logger)
        return .done
    }

    /// Refused when the new name is taken by another data set of the request, or the write path by any other.
    public static func update(_ d: DataSetRecord, on conn: PostgresConnection, logger: Logger) async throws -> WriteOutcome {
        if let taken = try await conflict(d, on: conn, logger: logger) { return taken }
        try await conn.query(
            """
            UPDATE data_sets SET name = \(d.name), cadence = \(d.schedule.cadence.rawValue), due_working_days = \(d.schedule.dueWorkingDaysAfterPeriod),
                   uploaders = \(uploadersJSON(d.uploaders))::jsonb, fields = \(fieldsJSON(d.fields))::jsonb,
                   data_group = \(d.writePath?.group), data_type = \(d.writePath?.type), private = \(d.isPrivate),
                   updated_at = \(d.updatedAt), next_reminder_at = \(d.updatedAt)
            WHERE id = \(d.id)
            """, logger: logger)
        return .done
    }

    /// The name and write path are checked under locks on the rows that hold them, so that two
    /// racing writers cannot both pass (the unique indexes would turn the loser into a 500).
    private static func conflict(_ d: DataSetRecord, on conn: PostgresConnection, logger: Logger) async throws -> WriteOutcome? {
        // One transaction-scoped advisory lock per name and per path serialises the check and the write.
        try await conn.query(
            "SELECT pg_advisory_xact_lock(hashtextextended(\("data_set_name:\(d.requestID.lowercasedString):\(d.name)"), 0))", logger: logger)
        if try await !conn.query(
            "SELECT 1 FROM data_sets WHERE request_id = \(d.requestID) AND name = \(d.name) AND id <> \(d.id)", logger: logger
        ).collect().isEmpty {
            return .nameTaken
        }
        if let p = d.writePath {
            try await conn.query("SELECT pg_advisory_xact_lock(hashtextextended(\("data_set_path:\(p.path)"), 0))", logger: logger)
            if try await !conn.query(
                "SELECT 1 FROM data_sets WHERE data_group = \(p.group) AND data_type = \(p.type) AND id <> \(d.id)", logger: logger
            ).collect().isEmpty {
                return .writePathTaken
            }
        }
        return nil
    }

    static let columns = """
        id, request_id, name, cadence, due_working_days, uploaders::text, created_at, updated_at, fields::text,
        data_group, data_type, private, last_write_at, last_write_records, last_write_source, last_write_token_id
        """

    public static func list(requestID: UUID, on client: PostgresClient, logger: Logger) async throws -> [DataSetRecord] {
        try await decode(
            client.query(
                PostgresQuery(
                    unsafeSQL: "SELECT \(columns) FROM data_sets WHERE request_id = $1 ORDER BY created_at, id",
                    binds: binds(requestID)), logger: logger))
    }

    public static func fetch(_ id: UUID, on client: PostgresClient, logger: Logger) async throws -> DataSetRecord? {
        try await decode(
            client.query(PostgresQuery(unsafeSQL: "SELECT \(columns) FROM data_sets WHERE id = $1", binds: binds(id)), logger: logger)
        ).first
    }

    /// The data set written at `/data/{group}/{type}`, with its request's state.
    public static func fetch(path: WritePath, on client: PostgresClient, logger: Logger) async throws -> (DataSetRecord, RequestState)? {
        var b = SQLBinds()
        let sql = """
            SELECT \(columns.split(separator: ",").map { "d." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")), r.state
            FROM data_sets d JOIN requests r ON r.id = d.request_id
            WHERE d.data_group = \(b.add(path.group)) AND d.data_type = \(b.add(path.type))
            """
        let rows = try await client.query(b.query(sql), logger: logger).collect()
        guard let row = rows.first else { return nil }
        let state = try row.makeRandomAccess()[16].decode(String.self)
        return (try decodeRow(row), RequestState(rawValue: state) ?? .requested)
    }

    private static func binds(_ id: UUID) -> PostgresBindings {
        var b = PostgresBindings()
        b.append(id)
        return b
    }

    /// Records an upload for one period (see `recordUploads`).
    public static func recordUpload(
        _ u: UploadRecord, actorID: String?, rowCount: Int? = nil, content: String? = nil,
        on conn: PostgresConnection, logger: Logger
    ) async throws {
        try await recordUploads([u], actorID: actorID, rowCounts: [rowCount], content: content, on: conn, logger: logger)
    }

    /// Records uploads of one data set, one per period; each settles exactly its own period's open
    /// reminders (cancelling their queued emails): earlier periods with no data are still chased.
    /// The scheduler looks at the data set again.
    public static func recordUploads(
        _ uploads: [UploadRecord], actorID: String?, tokenID: UUID? = nil, rowCounts: [Int?], content: String? = nil,
        on conn: PostgresConnection, logger: Logger
    ) async throws {
        guard let first = uploads.first else { return }
        // Lock the data set first: a scheduler batch holding it commits its reminders before the
        // settling below (a later statement, so it sees them) looks for them.
        try await conn.query("UPDATE data_sets SET next_reminder_at = \(first.receivedAt) WHERE id = \(first.dataSetID)", logger: logger)
        try await ReminderStore.settle(
            dataSetID: first.dataSetID, periods: uploads.map(\.period.start), at: first.receivedAt, on: conn, logger: logger)
        try await conn.query(
            """
            INSERT INTO data_set_uploads (id, data_set_id, period_start, period_end, received_at, source, actor_id, note, row_count, content, token_id)
            SELECT u.id, \(first.dataSetID), u.period_start::date, u.period_end::date, \(first.receivedAt), \(first.source), \(actorID), u.note,
                   NULLIF(u.row_count, -1)::int, \(content), \(tokenID)
            FROM unnest(\(uploads.map(\.id))::uuid[], \(uploads.map(\.period.start.description))::text[], \(uploads.map(\.period.end.description))::text[],
                        \(uploads.map(\.note))::text[], \(rowCounts.map { $0 ?? -1 })::int8[]) AS u(id, period_start, period_end, note, row_count)
            """, logger: logger)
    }

    /// The period starts received for each data set, from `since` on.
    public static func receivedPeriods(_ ids: [UUID], since: CivilDate, on client: PostgresClient, logger: Logger) async throws -> [UUID: Set<
        CivilDate
    >] {
        guard !ids.isEmpty else { return [:] }
        var out: [UUID: Set<CivilDate>] = [:]
        for try await (ds, start) in try await client.query(
            """
            SELECT DISTINCT data_set_id, period_start::text FROM data_set_uploads
            WHERE data_set_id = ANY(\(ids)) AND period_start >= \(since.description)::date
            """, logger: logger
        ).decode((UUID, String).self) {
            if let d = CivilDate(iso: start) { out[ds, default: []].insert(d) }
        }
        return out
    }

    /// Locks the data set's row for the rest of the transaction.
    public static func lockForWrite(_ id: UUID, on conn: PostgresConnection, logger: Logger) async throws {
        try await conn.query("SELECT 1 FROM data_sets WHERE id = \(id) FOR UPDATE", logger: logger)
    }

    /// Records the latest write of records on the data set.
    public static func noteWrite(
        dataSetID: UUID, at: Date, records: Int, source: String, tokenID: UUID?, on conn: PostgresConnection, logger: Logger
    ) async throws {
        try await conn.query(
            """
            UPDATE data_sets SET last_write_at = \(at), last_write_records = \(records), last_write_source = \(source),
                   last_write_token_id = \(tokenID)
            WHERE id = \(dataSetID)
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
        for try await row in rows { out.append(try decodeRow(row)) }
        return out
    }

    /// A row of `columns` (extra columns after them are ignored).
    static func decodeRow(_ row: PostgresRow) throws -> DataSetRecord {
        let c = row.makeRandomAccess()
        var r = record(
            id: try c[0].decode(UUID.self), requestID: try c[1].decode(UUID.self), name: try c[2].decode(String.self),
            cadence: try c[3].decode(String.self), dueDays: try c[4].decode(Int.self), uploaders: try c[5].decode(String.self),
            fields: Self.fields(try c[8].decode(String.self)), created: try c[6].decode(Date.self), updated: try c[7].decode(Date.self))
        if let group = try c[9].decode(String?.self), let type = try c[10].decode(String?.self) {
            r.writePath = WritePath(group: group, type: type)
        }
        r.isPrivate = try c[11].decode(Bool.self)
        if let at = try c[12].decode(Date?.self) {
            r.lastWrite = LastWrite(
                at: at, records: try c[13].decode(Int?.self) ?? 0, source: try c[14].decode(String?.self) ?? "api",
                tokenID: try c[15].decode(UUID?.self))
        }
        return r
    }

    static func record(
        id: UUID, requestID: UUID, name: String, cadence: String, dueDays: Int, uploaders: String, fields: [DataField] = [],
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
