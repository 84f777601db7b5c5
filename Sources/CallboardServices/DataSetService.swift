import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// A data set as shown: its record, the period whose data is owed now, when that is due, and where it stands.
public struct DataSetView: Sendable {
    public var record: DataSetRecord
    public var period: Period
    public var due: Deadline
    public var status: UploadStatus
    public var lastUpload: UploadRecord?
}

/// Spreadsheet-fed data sets of a request and the uploads that settle their deadlines.
public struct DataSetService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let sla: PreviewSLAHolder

    public init(db: PostgresClient, time: any TimeSource, logger: Logger, sla: PreviewSLAHolder) {
        self.db = db
        self.time = time
        self.logger = logger
        self.sla = sla
    }

    public func list(requestID: UUID, by who: Principal) async throws -> [DataSetView] {
        try who.require(.readRequests)
        let request = try await requireRequest(requestID)
        return try await views(try await DataSetStore.list(requestID: requestID, on: db, logger: logger), division: request.division)
    }

    public func create(requestID: UUID, _ body: JSONValue, by who: Principal) async throws -> DataSetView {
        try who.require(.updateRequest)
        let input = try Input.parse(body, creating: true)
        let request = try await requireRequest(requestID)
        let now = time.now()
        let record = DataSetRecord(id: UUID(), requestID: requestID, name: input.name!,
                                   schedule: UploadSchedule(cadence: input.cadence!, dueWorkingDaysAfterPeriod: input.dueDays ?? 5),
                                   uploaders: input.uploaders!, createdAt: now, updatedAt: now)
        try await db.transaction(logger: logger) { conn in
            guard try await DataSetStore.insert(record, on: conn, logger: logger) else {
                throw ServiceError.validation([FieldError(pointer: "/name", message: "is already the name of a data set of this request")])
            }
            try await event(request, "data_set_created", by: who, data: ["data_set_id": .string(record.id.uuidString.lowercased()),
                                                                          "name": .string(record.name)], on: conn)
        }
        return try await views([record], division: request.division)[0]
    }

    public func update(requestID: UUID, dataSetID: UUID, _ body: JSONValue, by who: Principal) async throws -> DataSetView {
        try who.require(.updateRequest)
        let input = try Input.parse(body, creating: false)
        let request = try await requireRequest(requestID)
        guard var record = try await DataSetStore.fetch(dataSetID, on: db, logger: logger), record.requestID == requestID else {
            throw ServiceError.notFound("data set")
        }
        if let n = input.name { record.name = n }
        if let c = input.cadence { record.schedule.cadence = c }
        if let d = input.dueDays { record.schedule.dueWorkingDaysAfterPeriod = d }
        if let u = input.uploaders { record.uploaders = u }
        record.updatedAt = time.now()
        let updated = record
        try await db.transaction(logger: logger) { conn in
            guard try await DataSetStore.update(updated, on: conn, logger: logger) else {
                throw ServiceError.validation([FieldError(pointer: "/name", message: "is already the name of a data set of this request")])
            }
            try await event(request, "data_set_updated", by: who, data: ["data_set_id": .string(updated.id.uuidString.lowercased())], on: conn)
        }
        return try await views([updated], division: request.division)[0]
    }

    /// Records an upload for a period (the period owed now when none is given); it settles that deadline.
    public func recordUpload(dataSetID: UUID, _ body: JSONValue?, by who: Principal) async throws -> (UploadRecord, DataSetView) {
        try who.require(.updateRequest)
        guard let record = try await DataSetStore.fetch(dataSetID, on: db, logger: logger) else { throw ServiceError.notFound("data set") }
        let request = try await requireRequest(record.requestID)
        let now = time.now()
        let today = London.date(of: now)
        var errors = ErrorCollector()
        var period = record.schedule.currentPeriod(on: today)
        var note = ""
        if let body, body != .null, var r = ObjectReader(body, at: "", errors: &errors) {
            if let s = r.string("period_start", required: false, maxLength: 10) {
                if let d = CivilDate(iso: s) {
                    let p = Period.containing(d, cadence: record.schedule.cadence)
                    if p.start != d {
                        r.errors.add("/period_start", "must be the first day of a \(record.schedule.cadence.rawValue) period, like \(p.start)")
                    } else if d > today {
                        r.errors.add("/period_start", "must not be in the future")
                    } else {
                        period = p
                    }
                } else {
                    r.errors.add("/period_start", "must be a date, like 2026-11-01")
                }
            }
            note = r.string("note", required: false, maxLength: 1000) ?? ""
            errors.add(contentsOf: r.finish())
        } else if let body, body != .null, body.objectValue == nil {
            errors.add("", "must be an object, got \(body.typeName)")
        }
        try errors.throwIfAny()
        let upload = UploadRecord(id: UUID(), dataSetID: dataSetID, period: period, receivedAt: now, source: "staff", note: note)
        try await db.transaction(logger: logger) { conn in
            try await DataSetStore.recordUpload(upload, actorID: who.actorID, on: conn, logger: logger)
            try await event(request, "upload_recorded", by: who, data: [
                "data_set_id": .string(dataSetID.uuidString.lowercased()), "period_start": .string(period.start.description),
                "period_end": .string(period.end.description), "source": .string("staff"),
            ], on: conn)
        }
        return (upload, try await views([record], division: request.division)[0])
    }

    // MARK: -

    private func requireRequest(_ id: UUID) async throws -> RequestRecord {
        guard let r = try await RequestStore.fetch(id, on: db, logger: logger) else { throw ServiceError.notFound("request") }
        return r
    }

    private func event(_ r: RequestRecord, _ kind: String, by who: Principal, data: [String: JSONValue], on conn: PostgresConnection) async throws {
        try await EventStore.append(EventRecord(requestID: r.id, version: r.version, kind: kind, actorKind: who.actor, actorID: who.actorID,
                                                occurredAt: time.now(), data: .object(data)), on: conn, logger: logger)
    }

    private func views(_ records: [DataSetRecord], division: String) async throws -> [DataSetView] {
        let latest = try await DataSetStore.latestUploads(records.map(\.id), on: db, logger: logger)
        let calendar = sla.current.calendar(for: division)
        let today = London.date(of: time.now())
        return records.map { r in
            let period = r.schedule.currentPeriod(on: today)
            let last = latest[r.id]
            let received = last.map { $0.period.start >= period.start } ?? false
            return DataSetView(record: r, period: period, due: r.schedule.due(for: period, calendar: calendar),
                               status: r.schedule.status(on: today, received: received, calendar: calendar), lastUpload: last)
        }
    }

    struct Input {
        var name: String?
        var cadence: Cadence?
        var dueDays: Int?
        var uploaders: [Uploader]?

        static func parse(_ body: JSONValue, creating: Bool) throws(ServiceError) -> Input {
            var errors = ErrorCollector()
            var input = Input()
            guard var r = ObjectReader(body, at: "", errors: &errors) else { throw .validation(errors.errors) }
            input.name = r.string("name", required: creating || r.has("name"), maxLength: 200)
            input.cadence = r.choice("cadence", Cadence.self, required: creating || r.has("cadence"))
            if let raw = r.raw("due_working_days_after_period"), raw != .null {
                if case .number(let n) = raw, n == n.rounded(), (0...60).contains(n) { input.dueDays = Int(n) }
                else { r.errors.add("/due_working_days_after_period", "must be a whole number from 0 to 60") }
            }
            if let list = r.array("uploaders", required: creating || r.has("uploaders")) {
                if list.isEmpty { r.errors.add("/uploaders", "must list at least one uploader") }
                var out: [Uploader] = []
                for (i, u) in list.enumerated() {
                    guard var ur = ObjectReader(u, at: "/uploaders/\(i)", errors: &r.errors) else { continue }
                    let name = ur.string("name", required: true)
                    let email = ur.email("email", required: true)
                    r.errors.add(contentsOf: ur.finish())
                    if let name, let email { out.append(Uploader(name: name, email: email)) }
                }
                input.uploaders = out
            }
            errors.add(contentsOf: r.finish())
            try errors.throwIfAny()
            if !creating, input.name == nil, input.cadence == nil, input.dueDays == nil, input.uploaders == nil {
                throw .validation([FieldError(pointer: "", message: "give at least one field to change")])
            }
            return input
        }
    }
}
