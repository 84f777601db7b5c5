import CallboardDomain
import CallboardStorage
import Crypto
import Foundation
import Logging
import PostgresNIO

/// What the write API refuses, mapped by the HTTP layer to the status the platform's clients
/// expect (none of them a 5xx, which the official client would retry).
public enum DataAPIRefusal: Error, Sendable, Equatable {
    /// 401: no token, or one that is unknown or revoked.
    case unauthorized(String)
    /// 403: a live token of another data set.
    case forbidden(String)
    /// 404: no data set at that path (only said to callers allowed to know).
    case notFound
    /// 400: the body or the query, with every problem.
    case invalid(String, [FieldError])
}

/// The Performance Platform's write API (`/data/{group}/{type}`): per-data-set tokens, records
/// validated whole, upserts, and uploads that settle exactly the periods their records fall in.
public struct DataWriteService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger

    public init(db: PostgresClient, time: any TimeSource, logger: Logger) {
        self.db = db
        self.time = time
        self.logger = logger
    }

    /// Write tokens carry their own prefix, so a leaked one is recognised as such.
    public static let tokenPrefix = "cbw_"

    // MARK: Tokens (staff)

    public func createToken(dataSetID: UUID, _ body: JSONValue?, by who: Principal) async throws -> (token: String, record: WriteTokenRecord) {
        try who.require(.manageWriteTokens)
        var errors = ErrorCollector()
        var name = ""
        if let body, body != .null, var r = ObjectReader(body, at: "", errors: &errors) {
            name = r.string("name", required: false, maxLength: 200, singleLine: true) ?? ""
            errors.add(contentsOf: r.finish())
        }
        try errors.throwIfAny()
        guard try await DataSetStore.fetch(dataSetID, on: db, logger: logger) != nil else { throw ServiceError.notFound("data set") }
        let token = StaffService.newToken(prefix: Self.tokenPrefix)
        let record = try await WriteTokenStore.insert(
            id: UUID(), dataSetID: dataSetID, hash: StaffService.hash(token), name: name, createdBy: who.actorID, at: time.now(),
            on: db, logger: logger)
        return (token, record)
    }

    public func listTokens(dataSetID: UUID, by who: Principal) async throws -> [WriteTokenRecord] {
        try who.require(.manageWriteTokens)
        guard try await DataSetStore.fetch(dataSetID, on: db, logger: logger) != nil else { throw ServiceError.notFound("data set") }
        return try await WriteTokenStore.list(dataSetID: dataSetID, on: db, logger: logger)
    }

    public func revokeToken(dataSetID: UUID, tokenID: UUID, by who: Principal) async throws -> WriteTokenRecord {
        try who.require(.manageWriteTokens)
        guard let t = try await WriteTokenStore.revoke(id: tokenID, dataSetID: dataSetID, at: time.now(), on: db, logger: logger) else {
            throw ServiceError.notFound("write token")
        }
        return t
    }

    /// The live write token for a bearer value, or nil. Only a hash reaches the database.
    public func authenticate(bearer token: String) async throws -> WriteTokenRecord? {
        guard token.hasPrefix(Self.tokenPrefix), token.utf8.count < 200 else { return nil }
        let hash = StaffService.hash(token)
        guard let (record, stored) = try await WriteTokenStore.authenticate(hash: hash, at: time.now(), on: db, logger: logger),
            StaffService.constantTimeEquals(stored, hash)
        else { return nil }
        return record
    }

    // MARK: Writes

    /// The data set at `path`, when `token` may write it.
    public func target(_ path: WritePath, token: WriteTokenRecord) async throws -> DataSetRecord {
        guard let (d, state) = try await DataSetStore.fetch(path: path, on: db, logger: logger), d.id == token.dataSetID else {
            throw DataAPIRefusal.forbidden("This token writes only its own data set, not \(DataRecords.printable(path.path))")
        }
        guard !state.isFinal else { throw DataAPIRefusal.forbidden("The request of this data set is withdrawn: it takes no more data") }
        return d
    }

    /// Validates the JSON `body` whole, then upserts its records (`replace`: the data set's records
    /// become exactly these) and records an upload for each period they fall in. Returns how many
    /// records were written.
    public func write(_ body: [UInt8], to d: DataSetRecord, token: WriteTokenRecord, replace: Bool) async throws -> Int {
        let records: [StoredRecord]
        let parsed: Result<(records: [StoredRecord], single: Bool), RecordsInvalid>
        do {
            parsed = try DataRecords.parse(body, fields: d.fields)
        } catch {
            throw DataAPIRefusal.invalid("The body is not valid JSON: \(error.reason) at byte \(error.offset)", [])
        }
        switch parsed {
        case .success(let r):
            if replace, r.single {
                throw DataAPIRefusal.invalid(
                    "PUT takes an array of records (an empty one empties the data set)", [FieldError(pointer: "", message: "must be an array")])
            }
            records = DataRecords.lastWins(r.records)
        case .failure(let invalid):
            let problems = invalid.problems
            let first = problems[0].message
            throw DataAPIRefusal.invalid(
                problems.count == 1 ? first : "\(first) (and \(problems.count - 1) more problem\(problems.count == 2 ? "" : "s"))",
                problems.map { FieldError(pointer: $0.pointer, message: $0.message) })
        }
        // Appending nothing writes nothing (only PUT [] empties a data set).
        if records.isEmpty, !replace { return 0 }
        let now = time.now()
        // Data for a period still to come is stored but settles nothing: that period is owed when it ends.
        let current = Period.containing(London.date(of: now), cadence: d.schedule.cadence).start
        let periods = DataRecords.periods(records, cadence: d.schedule.cadence).filter { $0.start <= current }
        try await db.transaction(logger: logger) { conn in
            // One write at a time per data set, taking the data set's lock before any record's (as
            // the CSV page and the scheduler do): racing writers queue instead of deadlocking.
            try await DataSetStore.lockForWrite(d.id, on: conn, logger: logger)
            guard let r = try await RequestStore.fetch(d.requestID, on: conn, logger: logger) else { throw ServiceError.notFound("request") }
            if replace { try await DataRecordStore.delete(dataSetID: d.id, on: conn, logger: logger) }
            try await DataRecordStore.upsert(records, dataSetID: d.id, at: now, on: conn, logger: logger)
            try await DataSetStore.noteWrite(
                dataSetID: d.id, at: now, records: records.count, source: "api", tokenID: token.id, on: conn, logger: logger)
            // Emptying a data set is not an upload.
            guard !records.isEmpty else {
                try await event(
                    r, "data_set_emptied", ["data_set_id": .string(d.id.lowercasedString), "token_id": .string(token.id.lowercasedString)], now,
                    on: conn)
                return
            }
            try await Self.recordUploads(
                records, periods: periods, of: d, source: "api", actorID: "write_token:\(token.id.lowercasedString)", tokenID: token.id, at: now,
                on: conn, logger: logger)
            try await event(
                r, "upload_recorded", Self.uploadEventData(d, source: "api", tokenID: token.id, records: records.count, periods: periods), now,
                on: conn)
            try await WebhookStore.enqueue(
                WebhookEvents.upload(r, dataSetID: d.id, source: "api", periods: periods, at: now), on: conn, logger: logger)
        }
        return records.count
    }

    /// One upload per period the records fall in, each with that period's record count.
    static func recordUploads(
        _ records: [some IdentifiedRecord], periods: [Period], of d: DataSetRecord, source: String, actorID: String?, tokenID: UUID?, at now: Date,
        content: String? = nil, on conn: PostgresConnection, logger: Logger
    ) async throws {
        guard !periods.isEmpty else { return }
        var counts: [CivilDate: Int] = [:]
        for r in records {
            if let t = r.timestamp { counts[Period.containing(London.date(of: t), cadence: d.schedule.cadence).start, default: 0] += 1 }
        }
        let uploads = periods.map { p in
            UploadRecord(id: UUID(), dataSetID: d.id, period: p, receivedAt: now, source: source, note: "\(counts[p.start] ?? 0) records")
        }
        try await DataSetStore.recordUploads(
            uploads, actorID: actorID, tokenID: tokenID, rowCounts: periods.map { counts[$0.start] }, content: content, on: conn, logger: logger)
    }

    static func uploadEventData(_ d: DataSetRecord, source: String, tokenID: UUID?, records: Int?, periods: [Period]) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "data_set_id": .string(d.id.lowercasedString), "source": .string(source),
            "periods": .array(periods.map { .object(["start": .string($0.start.description), "end": .string($0.end.description)]) }),
        ]
        if let records { data["records"] = .number(Double(records)) }
        if let tokenID { data["token_id"] = .string(tokenID.lowercasedString) }
        if let p = periods.first {
            data["period_start"] = .string(p.start.description)
            data["period_end"] = .string(p.end.description)
        }
        return data
    }

    private func event(_ r: RequestRecord, _ kind: String, _ data: [String: JSONValue], _ now: Date, on conn: PostgresConnection) async throws {
        try await EventStore.append(
            EventRecord(
                requestID: r.id, version: r.version, kind: kind, actorKind: .uploader,
                actorID: data["token_id"]?.stringValue.map { "write_token:\($0)" },
                occurredAt: now, data: .object(data)), on: conn, logger: logger)
    }

    // MARK: Reads

    /// Who is reading: nobody, a write token, or a staff member.
    public enum Reader: Sendable {
        case anonymous
        case token(WriteTokenRecord)
        case staff(Principal)
    }

    /// The records or groups of `GET /data/{group}/{type}`. Public once the dashboard is live
    /// (unless the data set is private); before that, its write tokens and staff only.
    public func read(_ path: WritePath, query pairs: [(String, String)], as reader: Reader) async throws -> JSONValue {
        let found = try await DataSetStore.fetch(path: path, on: db, logger: logger)
        switch reader {
        case .anonymous:
            guard let (d, state) = found, !d.isPrivate, state == .live || state == .productAudit else {
                // The same answer whether or not the data set exists.
                throw DataAPIRefusal.unauthorized("This data set is not public: send Authorization: Bearer <token>")
            }
        case .token(let t):
            guard let (d, _) = found, d.id == t.dataSetID else {
                throw DataAPIRefusal.forbidden("This token reads only its own data set, not \(DataRecords.printable(path.path))")
            }
        case .staff(let who):
            guard who.allows(.readRequests) else { throw DataAPIRefusal.forbidden("Your role may not read data sets") }
            guard found != nil else { throw DataAPIRefusal.notFound }
        }
        let d = found!.0
        let q: DataQuery
        switch DataQuery.parse(pairs, fields: d.fields) {
        case .success(let v): q = v
        case .failure(let invalid):
            let first = invalid.errors[0]
            throw DataAPIRefusal.invalid("\(first.pointer.dropFirst("/query/".count)) \(first.message)", invalid.errors)
        }
        if !q.isGrouped {
            let records = try await DataRecordStore.records(q, dataSetID: d.id, on: db, logger: logger)
            return .object(["data": .array(records.map(Self.json))])
        }
        // Sorted rows are sorted whole (up to the most a read returns), then cut to `limit`.
        var all = q
        if q.sort != nil { all.limit = DataQuery.maxLimit }
        var rows = try await DataRecordStore.groups(all, dataSetID: d.id, on: db, logger: logger).map { Self.json($0, q) }
        if let s = q.sort {
            let key = s.field == "_timestamp" ? "_start_at" : s.field
            rows.sort { a, b in
                let (x, y) = (a[key] ?? .null, b[key] ?? .null)
                return s.descending ? Self.less(y, x) : Self.less(x, y)
            }
            rows = Array(rows.prefix(q.limit))
        }
        return .object(["data": .array(rows)])
    }

    static func json(_ r: DataRecord) -> JSONValue {
        var o = r.values
        o["_id"] = r.id.map(JSONValue.string) ?? .null
        o["_timestamp"] = r.timestamp.map { .string(PlatformTime.utc($0)) } ?? .null
        return .object(o)
    }

    static func json(_ row: DataGroupRow, _ q: DataQuery) -> JSONValue {
        var o: [String: JSONValue] = ["_count": .number(Double(row.count))]
        if let p = q.period, let start = row.periodStart {
            let end: CivilDate
            switch p {
            case .week: end = start.adding(days: 7)
            case .month: end = Period.containing(start, cadence: .monthly).end.adding(days: 1)
            case .quarter: end = Period.containing(start, cadence: .quarterly).end.adding(days: 1)
            }
            o["_start_at"] = .string(PlatformTime.london(London.instant(start)))
            o["_end_at"] = .string(PlatformTime.london(London.instant(end)))
        }
        if let g = q.groupBy { o[g] = row.group ?? .null }
        for (c, v) in zip(q.collect, row.collected) { o[c.key] = v.map(JSONValue.number) ?? .null }
        return .object(o)
    }

    /// Nulls last; numbers by value; anything else by its text.
    static func less(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, _): return false
        case (_, .null): return true
        case (.number(let x), .number(let y)): return x < y
        default: return a.serializedString < b.serializedString
        }
    }
}

/// Times as the Performance Platform wrote them: `2026-11-23T00:00:00+00:00`.
enum PlatformTime {
    static func utc(_ d: Date) -> String { format(d, offsetSeconds: 0) }

    /// London wall-clock time with its offset (`+01:00` in summer).
    static func london(_ d: Date) -> String { format(d, offsetSeconds: London.offsetSeconds(at: d)) }

    static func format(_ d: Date, offsetSeconds: Int) -> String {
        let local = Int((d.timeIntervalSince1970).rounded(.down)) + offsetSeconds
        let day = CivilDate(daysSinceEpoch: Int((Double(local) / 86_400).rounded(.down)))
        let seconds = local - day.daysSinceEpoch * 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let sign = offsetSeconds < 0 ? "-" : "+"
        let off = abs(offsetSeconds) / 60
        return "\(day)T\(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60))\(sign)\(two(off / 60)):\(two(off % 60))"
    }
}
