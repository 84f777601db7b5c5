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
    /// Where uploader invitations are queued (nil: none are sent).
    let outbox: EmailOutbox?

    public init(db: PostgresClient, time: any TimeSource, logger: Logger, sla: PreviewSLAHolder, outbox: EmailOutbox? = nil) {
        self.db = db
        self.time = time
        self.logger = logger
        self.sla = sla
        self.outbox = outbox
    }

    public func list(requestID: UUID, by who: Principal) async throws -> [DataSetView] {
        try who.require(.readRequests)
        let request = try await requireRequest(requestID)
        return try await views(try await DataSetStore.list(requestID: requestID, on: db, logger: logger), division: request.division)
    }

    /// One data set of a request.
    public func get(requestID: UUID, dataSetID: UUID, by who: Principal) async throws -> DataSetView {
        try who.require(.readRequests)
        let request = try await requireRequest(requestID)
        guard let record = try await DataSetStore.fetch(dataSetID, on: db, logger: logger), record.requestID == requestID else {
            throw ServiceError.notFound("data set")
        }
        return try await views([record], division: request.division)[0]
    }

    /// Emails one uploader the invitation again, with a new link (earlier ones keep working). Nil:
    /// the same resend was queued within the minute (a double click), so nothing more was queued.
    public func resendUploadLink(requestID: UUID, dataSetID: UUID, email: String, by who: Principal) async throws -> EmailStatus? {
        try who.require(.updateRequest)
        let request = try await requireRequest(requestID)
        guard let record = try await DataSetStore.fetch(dataSetID, on: db, logger: logger), record.requestID == requestID else {
            throw ServiceError.notFound("data set")
        }
        guard let uploader = record.uploaders.first(where: { $0.email.lowercased() == email.lowercased() }) else {
            throw ServiceError.validation([FieldError(pointer: "/email", message: "is not an uploader of this data set")])
        }
        guard outbox != nil else { throw ServiceError.conflict("this server sends no email") }
        let minute = Int(time.now().timeIntervalSince1970 / 60)
        return try await db.transaction(logger: logger) { conn in
            try await inviteUploaders(record, request, to: [uploader], on: conn) { "\(record.id.lowercasedString):resend:\($0):\(minute)" }.first
                ?? nil
        }
    }

    public func create(requestID: UUID, _ body: JSONValue, by who: Principal) async throws -> DataSetView {
        try who.require(.updateRequest)
        let input = try Input.parse(body, creating: true)
        let request = try await requireRequest(requestID)
        let now = time.now()
        let record = DataSetRecord(
            id: UUID(), requestID: requestID, name: input.name!,
            schedule: UploadSchedule(cadence: input.cadence!, dueWorkingDaysAfterPeriod: input.dueDays ?? 5),
            uploaders: input.uploaders!, fields: input.fields ?? [], writePath: input.writePath ?? nil, isPrivate: input.isPrivate ?? false,
            createdAt: now, updatedAt: now)
        try await db.transaction(logger: logger) { conn in
            try Self.check(try await DataSetStore.insert(record, on: conn, logger: logger))
            try await event(
                request, "data_set_created", by: who,
                data: [
                    "data_set_id": .string(record.id.lowercasedString),
                    "name": .string(record.name),
                ], on: conn)
            _ = try await inviteUploaders(record, request, to: record.uploaders, on: conn) { "\(record.id.lowercasedString):invite:\($0)" }
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
        if let f = input.fields { record.fields = f }
        if let p = input.writePath { record.writePath = p }
        if let p = input.isPrivate { record.isPrivate = p }
        record.updatedAt = time.now()
        let updated = record
        try await db.transaction(logger: logger) { conn in
            try Self.check(try await DataSetStore.update(updated, on: conn, logger: logger))
            // New uploaders or a new rule: what is queued under the old ones is not sent; the scheduler looks again.
            if input.uploaders != nil || input.cadence != nil || input.dueDays != nil {
                try await ReminderStore.settle(dataSetID: updated.id, at: updated.updatedAt, on: conn, logger: logger)
            }
            try await event(request, "data_set_updated", by: who, data: ["data_set_id": .string(updated.id.lowercasedString)], on: conn)
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
            if let s = r.string("period_start", required: false, maxLength: 10, singleLine: true) {
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
            try await event(
                request, "upload_recorded", by: who,
                // The same shape as an API or CSV upload's event (no records: staff record a feed's arrival).
                data: DataWriteService.uploadEventData(record, source: "staff", tokenID: nil, records: nil, periods: [period]), on: conn)
            try await WebhookStore.enqueue(
                WebhookEvents.upload(request, dataSetID: dataSetID, source: "staff", periods: [period], at: now), on: conn, logger: logger)
        }
        return (upload, try await views([record], division: request.division)[0])
    }

    // MARK: -

    static func check(_ outcome: DataSetStore.WriteOutcome) throws(ServiceError) {
        switch outcome {
        case .done: return
        case .nameTaken: throw .validation([FieldError(pointer: "/name", message: "is already the name of a data set of this request")])
        case .writePathTaken:
            throw .validation([FieldError(pointer: "/data_type", message: "is already used with this data_group by another data set")])
        }
    }

    /// Each uploader is told where to upload, with a link of their own; `dedupKey` makes each
    /// email's key from the lower-cased address. Returns each email's status (nil: deduplicated).
    private func inviteUploaders(
        _ d: DataSetRecord, _ r: RequestRecord, to uploaders: [Uploader], on conn: PostgresConnection, dedupKey: (String) -> String
    ) async throws -> [EmailStatus?] {
        guard let outbox else { return [] }
        let now = time.now()
        let links = uploaders.map { outbox.uploadLink(d, to: $0.email, at: now) }
        try await LinkStore.insertMany(links, on: conn, logger: logger)
        var statuses: [EmailStatus?] = []
        for link in links {
            var context = outbox.baseContext(r)
            context["link"] = outbox.url(link)
            context["data_set"] = d.name
            context["cadence"] = d.schedule.cadence.rawValue
            context["due_rule"] = "\(d.schedule.dueWorkingDaysAfterPeriod) working days after each period ends"
            statuses.append(
                try await outbox.queue(
                    .uploadInvitation, to: link.record.email, requestID: r.id, context: context,
                    dedupKey: dedupKey(link.record.email.lowercased()), at: now, on: conn, logger: logger))
        }
        return statuses
    }

    private func requireRequest(_ id: UUID) async throws -> RequestRecord {
        guard let r = try await RequestStore.fetch(id, on: db, logger: logger) else { throw ServiceError.notFound("request") }
        return r
    }

    private func event(_ r: RequestRecord, _ kind: String, by who: Principal, data: [String: JSONValue], on conn: PostgresConnection) async throws {
        try await EventStore.append(
            EventRecord(
                requestID: r.id, version: r.version, kind: kind, actorKind: who.actor, actorID: who.actorID,
                occurredAt: time.now(), data: .object(data)), on: conn, logger: logger)
    }

    func views(_ records: [DataSetRecord], division: String) async throws -> [DataSetView] {
        let latest = try await DataSetStore.latestUploads(records.map(\.id), on: db, logger: logger)
        let calendar = sla.current.calendar(for: division)
        let today = London.date(of: time.now())
        let oldest = records.map { $0.schedule.currentPeriod(on: today).start }.min() ?? today
        let received = try await DataSetStore.receivedPeriods(records.map(\.id), since: oldest, on: db, logger: logger)
        return records.map { r in
            let period = r.schedule.currentPeriod(on: today)
            let last = latest[r.id]
            let received = received[r.id]?.contains(period.start) ?? false
            return DataSetView(
                record: r, period: period, due: r.schedule.due(for: period, calendar: calendar),
                status: r.schedule.status(on: today, received: received, calendar: calendar), lastUpload: last)
        }
    }

    struct Input {
        var name: String?
        var cadence: Cadence?
        var dueDays: Int?
        var uploaders: [Uploader]?
        var fields: [DataField]?
        /// `.some(nil)`: the write path is removed.
        var writePath: WritePath??
        var isPrivate: Bool?

        static func parse(_ body: JSONValue, creating: Bool) throws(ServiceError) -> Input {
            var errors = ErrorCollector()
            var input = Input()
            guard var r = ObjectReader(body, at: "", errors: &errors) else { throw .validation(errors.errors) }
            input.name = r.string("name", required: creating || r.has("name"), maxLength: 200, singleLine: true)
            input.cadence = r.choice("cadence", Cadence.self, required: creating || r.has("cadence"))
            if let raw = r.raw("due_working_days_after_period"), raw != .null {
                if case .number(let n) = raw, n == n.rounded(), (0...60).contains(n) {
                    input.dueDays = Int(n)
                } else {
                    r.errors.add("/due_working_days_after_period", "must be a whole number from 0 to 60")
                }
            }
            if let list = r.array("uploaders", required: creating || r.has("uploaders")) {
                if list.isEmpty { r.errors.add("/uploaders", "must list at least one uploader") }
                var out: [Uploader] = []
                for (i, u) in list.enumerated() {
                    guard var ur = ObjectReader(u, at: "/uploaders/\(i)", errors: &r.errors) else { continue }
                    let name = ur.string("name", required: true, singleLine: true)
                    let email = ur.email("email", required: true)
                    r.errors.add(contentsOf: ur.finish())
                    if let name, let email { out.append(Uploader(name: name, email: email)) }
                }
                input.uploaders = out
            }
            if let list = r.array("fields", required: false) {
                var out: [DataField] = []
                for (i, v) in list.enumerated() {
                    // A name alone is a number field (as every field was before fields had types).
                    var name = v.stringValue
                    var type = FieldType.number
                    if v.objectValue != nil, var fr = ObjectReader(v, at: "/fields/\(i)", errors: &r.errors) {
                        name = fr.string("name", required: true, maxLength: 63, singleLine: true)
                        type = fr.choice("type", FieldType.self, required: true) ?? .number
                        r.errors.add(contentsOf: fr.finish())
                        guard name != nil else { continue }
                    }
                    guard let n = name, n.range(of: "^[a-z][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
                        r.errors.add(
                            "/fields/\(i)",
                            "must be a field name of lower-case letters, digits and underscores, starting with a letter, or {\"name\", \"type\"}")
                        continue
                    }
                    if out.contains(where: { $0.name == n }) { r.errors.add("/fields/\(i)", "repeats \(n)") } else { out.append(DataField(n, type)) }
                }
                if list.count > 50 { r.errors.add("/fields", "must list at most 50 fields") }
                input.fields = out
            }
            switch (Self.pathPart(&r, "data_group"), Self.pathPart(&r, "data_type")) {
            case (.value(let g), .value(let t)): input.writePath = .some(WritePath(group: g, type: t))
            case (.null, .null): input.writePath = .some(nil)
            case (.absent, .absent), (.invalid, _), (_, .invalid): break
            case (.absent, _), (.null, _): r.errors.add("/data_group", "give data_group and data_type together (both null to remove the write path)")
            case (_, .absent), (_, .null): r.errors.add("/data_type", "give data_group and data_type together (both null to remove the write path)")
            }
            if let raw = r.raw("private") {
                if case .bool(let b) = raw { input.isPrivate = b } else { r.errors.add("/private", "must be true or false") }
            }
            errors.add(contentsOf: r.finish())
            try errors.throwIfAny()
            if !creating, input.name == nil, input.cadence == nil, input.dueDays == nil, input.uploaders == nil, input.fields == nil,
                input.writePath == nil, input.isPrivate == nil
            {
                throw .validation([FieldError(pointer: "", message: "give at least one field to change")])
            }
            return input
        }

        enum PathPart {
            case absent, null, invalid
            case value(String)
        }

        /// A part of a write path: 1 to 100 lower-case letters, digits and hyphens.
        static func pathPart(_ r: inout ObjectReader, _ key: String) -> PathPart {
            guard let raw = r.raw(key) else { return .absent }
            if raw == .null { return .null }
            guard let s = raw.stringValue, (1...100).contains(s.utf8.count),
                s.utf8.allSatisfy({
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                        || $0 == UInt8(ascii: "-")
                })
            else {
                r.errors.add("/\(key)", "must be 1 to 100 lower-case letters, digits and hyphens, like carers-allowance")
                return .invalid
            }
            return .value(s)
        }
    }
}
