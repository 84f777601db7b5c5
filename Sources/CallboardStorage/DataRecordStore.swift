import CallboardDomain
import Foundation
import Logging
import PostgresNIO

/// One grouped row of a read: the period's start (London date), the group's value, the count,
/// and one value per collected field (nil: no number to add up).
public struct DataGroupRow: Sendable, Equatable {
    public var periodStart: CivilDate?
    public var group: JSONValue?
    public var count: Int
    public var collected: [Double?]
}

/// A data set's records (migration 0015): written by the write API and the CSV page, read by
/// `GET /data/{group}/{type}`. Field names reach SQL only as binds (`data->$n`).
public enum DataRecordStore {
    /// Rows a statement carries: big batches go in several, so no bind buffer holds a whole 10 MB body.
    static let rowsPerStatement = 5000

    /// Upserts by `record_id`, in the order given (see `DataRecords.lastWins`); records without
    /// `_id` get a new one. The rows travel as three arrays, `rowsPerStatement` at a time.
    public static func upsert(_ records: [StoredRecord], dataSetID: UUID, at now: Date, on conn: PostgresConnection, logger: Logger) async throws {
        for start in stride(from: 0, to: records.count, by: rowsPerStatement) {
            let chunk = records[start..<min(records.count, start + rowsPerStatement)]
            let ids = chunk.map { $0.id ?? UUID().lowercasedString }
            // Seconds since 1970; NaN for no _timestamp (an array bind cannot carry NULLs here).
            let ats = chunk.map { $0.timestamp?.timeIntervalSince1970 ?? .nan }
            let data = chunk.map(\.data)
            try await conn.query(
                """
                INSERT INTO data_set_records (data_set_id, record_id, at, data, written_at)
                SELECT \(dataSetID), u.id, CASE WHEN u.at = 'NaN' THEN NULL ELSE to_timestamp(u.at) END, u.data::jsonb, \(now)
                FROM unnest(\(ids)::text[], \(ats)::float8[], \(data)::text[]) AS u(id, at, data)
                ON CONFLICT (data_set_id, record_id) DO UPDATE SET at = excluded.at, data = excluded.data, written_at = excluded.written_at
                """, logger: logger)
        }
    }

    /// Removes every record of the data set (`PUT`), or those whose time falls in [from, to) (a CSV
    /// upload replacing its period).
    public static func delete(dataSetID: UUID, from: Date? = nil, to: Date? = nil, on conn: PostgresConnection, logger: Logger) async throws {
        if let from, let to {
            try await conn.query(
                "DELETE FROM data_set_records WHERE data_set_id = \(dataSetID) AND at >= \(from) AND at < \(to)", logger: logger)
        } else {
            try await conn.query("DELETE FROM data_set_records WHERE data_set_id = \(dataSetID)", logger: logger)
        }
    }

    public static func count(dataSetID: UUID, on client: PostgresClient, logger: Logger) async throws -> Int {
        let rows = try await client.query("SELECT count(*)::int8 FROM data_set_records WHERE data_set_id = \(dataSetID)", logger: logger).collect()
        return Int(try rows.first?.decode(Int64.self) ?? 0)
    }

    /// Records matching the query, as stored: `_id`, `_timestamp` and the fields.
    public static func records(_ q: DataQuery, dataSetID: UUID, on client: PostgresClient, logger: Logger) async throws -> [DataRecord] {
        var b = SQLBinds()
        let conditions = self.conditions(q, dataSetID: dataSetID, &b)
        let order: String
        switch q.sort?.field {
        case nil: order = "at NULLS LAST, record_id"
        case "_timestamp": order = "at \(q.sort!.descending ? "DESC NULLS LAST" : "NULLS LAST"), record_id"
        case "_id": order = "record_id \(q.sort!.descending ? "DESC" : "")"
        case let f?: order = "data->\(b.add(f)) \(q.sort!.descending ? "DESC NULLS LAST" : "NULLS LAST"), at, record_id"
        }
        let sql = "SELECT record_id, at, data::text FROM data_set_records WHERE \(conditions) ORDER BY \(order) LIMIT \(b.add(q.limit))"
        var out: [DataRecord] = []
        for try await (id, at, data) in try await client.query(b.query(sql), logger: logger).decode((String, Date?, String).self) {
            out.append(DataRecord(id: id, timestamp: at, values: (try? JSONValue.parse(data))?.objectValue ?? [:]))
        }
        return out
    }

    /// One row per period (London weeks from Monday, months, quarters) and group, oldest first.
    public static func groups(_ q: DataQuery, dataSetID: UUID, on client: PostgresClient, logger: Logger) async throws -> [DataGroupRow] {
        var b = SQLBinds()
        var conditions = self.conditions(q, dataSetID: dataSetID, &b)
        var select: [String] = []
        if let p = q.period {
            // The unit comes from the enum, never from the caller's text.
            select.append("date_trunc('\(p.rawValue)', at AT TIME ZONE 'Europe/London')::date::text")
            conditions += " AND at IS NOT NULL"
        } else {
            select.append("NULL::text")
        }
        if let g = q.groupBy {
            let key = b.add(g)
            select.append("(data->\(key))::text")
            conditions += " AND data->\(key) IS NOT NULL"
        } else {
            select.append("NULL::text")
        }
        select.append("count(*)::int8")
        for c in q.collect {
            let key = b.add(c.field)
            // numeric, not float8: sums and means of huge numbers cannot overflow into an error.
            let number = "(data->>\(key))::numeric) FILTER (WHERE jsonb_typeof(data->\(key)) = 'number')"
            switch c.method {
            case .sum: select.append("(sum(\(number))::text")
            case .mean: select.append("(avg(\(number))::text")
            case .count: select.append("(count(*) FILTER (WHERE data->\(key) IS NOT NULL))::text")
            }
        }
        let sql = """
            SELECT \(select.joined(separator: ", ")) FROM data_set_records WHERE \(conditions)
            GROUP BY 1, 2 ORDER BY 1, 2 LIMIT \(b.add(q.limit))
            """
        var out: [DataGroupRow] = []
        for row in try await client.query(b.query(sql), logger: logger).collect() {
            let c = row.makeRandomAccess()
            let period = try c[0].decode(String?.self).flatMap(CivilDate.init(iso:))
            let group = try c[1].decode(String?.self).flatMap { try? JSONValue.parse($0) }
            let count = Int(try c[2].decode(Int64.self))
            var collected: [Double?] = []
            for i in 0..<q.collect.count {
                // Beyond Double's range a value is shown as null.
                collected.append(try c[3 + i].decode(String?.self).flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil })
            }
            out.append(DataGroupRow(periodStart: period, group: group, count: count, collected: collected))
        }
        return out
    }

    private static func conditions(_ q: DataQuery, dataSetID: UUID, _ b: inout SQLBinds) -> String {
        var parts = ["data_set_id = \(b.add(dataSetID))"]
        if let s = q.startAt { parts.append("at >= \(b.add(s))") }
        if let e = q.endAt { parts.append("at < \(b.add(e))") }
        for f in q.filters { parts.append("data->>\(b.add(f.field)) = \(b.add(f.value))") }
        return parts.joined(separator: " AND ")
    }
}
