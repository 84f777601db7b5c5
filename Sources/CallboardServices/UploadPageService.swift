import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// The uploader's page, reached by their emailed link: the period owed now, and a CSV file for it,
/// checked whole (every bad row reported) and stored only when all of it is valid.
public struct UploadPageService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let dataSets: DataSetService

    public init(db: PostgresClient, time: any TimeSource, logger: Logger, dataSets: DataSetService) {
        self.db = db
        self.time = time
        self.logger = logger
        self.dataSets = dataSets
    }

    public enum View: Sendable {
        case open(LinkRecord, RequestRecord, DataSetView)
        case expired(LinkRecord, RequestRecord)
        case closed(RequestRecord)
    }

    public enum Failure: Error, Sendable, Equatable {
        case invalid([CSVProblem])
    }

    public func view(token: String) async throws -> View {
        let (link, r) = try await PageLinks.open(token, purpose: .upload, db: db, logger: logger)
        guard let dsID = link.dataSetID, let d = try await DataSetStore.fetch(dsID, on: db, logger: logger),
            // A link acts only for someone the data set still names as an uploader, or the contact.
            d.uploaders.contains(where: { $0.email.lowercased() == link.email.lowercased() })
                || link.email.lowercased() == r.checklist.contactEmail?.lowercased()
        else { throw LinkRefusal.unknownLink }
        if r.state.isFinal { return .closed(r) }
        guard time.now() < link.expiresAt else { return .expired(link, r) }
        return .open(link, r, try await dataSets.views([d], division: r.division)[0])
    }

    /// Checks the file against the data set's fields and the period owed now; only when every row
    /// is valid, its rows replace that period's records (a re-upload does not duplicate them) and
    /// the upload is recorded, settling that period's reminders.
    public func upload(token: String, csrf: String, file: [UInt8]) async throws -> (UploadRecord, rows: Int) {
        guard case .open(let link, let r, let view) = try await view(token: token) else { throw LinkRefusal.unknownLink }
        try PageLinks.requireCSRF(csrf, of: link)
        let records: [DataRecord]
        switch CSVUpload.validate(file, fields: view.record.fields, period: view.period) {
        case .success(let rows): records = DataRecords.lastWins(rows)
        case .failure(let invalid): throw Failure.invalid(invalid.problems)
        }
        let rows = records.count
        let now = time.now()
        let upload = UploadRecord(
            id: UUID(), dataSetID: view.record.id, period: view.period, receivedAt: now, source: "csv",
            note: "\(rows) rows")
        try await db.transaction(logger: logger) { conn in
            try await DataSetStore.recordUpload(
                upload, actorID: link.email, rowCount: rows, content: String(decoding: file, as: UTF8.self),
                on: conn, logger: logger)
            try await DataRecordStore.delete(
                dataSetID: view.record.id, from: London.instant(view.period.start), to: London.instant(view.period.end.adding(days: 1)),
                on: conn, logger: logger)
            try await DataRecordStore.upsert(records.map(\.stored), dataSetID: view.record.id, at: now, on: conn, logger: logger)
            try await DataSetStore.noteWrite(dataSetID: view.record.id, at: now, records: rows, source: "csv", tokenID: nil, on: conn, logger: logger)
            let data = DataWriteService.uploadEventData(view.record, source: "csv", tokenID: nil, records: rows, periods: [view.period])
            try await EventStore.append(
                EventRecord(
                    requestID: r.id, version: r.version, kind: "upload_recorded", actorKind: .uploader,
                    actorID: link.email, occurredAt: now, data: .object(data)), on: conn, logger: logger)
            try await WebhookStore.enqueue(
                WebhookEvents.upload(r, dataSetID: view.record.id, source: "csv", periods: [view.period], at: now), on: conn, logger: logger)
        }
        return (upload, rows)
    }
}
