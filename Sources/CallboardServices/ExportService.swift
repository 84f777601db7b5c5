import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// The CSV exports of requests and of their history: read in keyset batches of `batchSize` rows,
/// each batch handed to `write` as one chunk of CSV text before the next is read, so memory stays
/// flat whatever the number of rows. Contact details need `read_contact_details` (admin, triager):
/// a viewer gets the same rows and columns with those cells empty (docs/api.md, "CSV exports").
public struct ExportService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    /// Rows per query and per chunk written.
    public var batchSize: Int

    public init(db: PostgresClient, time: any TimeSource, logger: Logger, batchSize: Int = 1000) {
        self.db = db
        self.time = time
        self.logger = logger
        self.batchSize = batchSize
    }

    /// What one export wrote.
    public struct Written: Sendable, Equatable {
        public var rows = 0
        /// Queries run (the last one finds fewer than `batchSize` rows, or none).
        public var batches = 0

        public init(rows: Int = 0, batches: Int = 0) {
            self.rows = rows
            self.batches = batches
        }
    }

    public static let requestColumns = [
        "id", "reference", "kind", "state", "department", "division", "service_name", "assignee_email", "created_at", "updated_at",
        "info_complete_at", "preview_due_at", "preview_met_at", "missing_items", "contact_name", "contact_email", "contact_phone",
        "sign_off_name", "sign_off_email",
    ]

    public static let eventColumns = ["id", "request_id", "reference", "version", "kind", "actor_kind", "actor_id", "occurred_at", "data"]

    /// Refuses a caller who may not read requests (before a response starts).
    public func authorize(_ who: Principal) throws {
        try who.require(.readRequests)
    }

    /// `callboard-<what>-YYYY-MM-DD.csv`, today's London date.
    public func filename(_ what: String) -> String {
        "callboard-\(what)-\(London.date(of: time.now())).csv"
    }

    /// Every request matching `filter`, oldest first ((created_at, id)), as CSV with a header row.
    @discardableResult
    public func requests(_ filter: RequestFilter, by who: Principal, write: (String) async throws -> Void) async throws -> Written {
        try authorize(who)
        let contacts = who.allows(.readContactDetails)
        var filter = filter
        filter.now = time.now()
        var written = Written()
        try await write(CSVExport.line(Self.requestColumns))
        var after: (micros: Int64, id: UUID)?
        while true {
            let rows = try await ExportStore.requests(filter, after: after, limit: batchSize, contacts: contacts, on: db, logger: logger)
            written.batches += 1
            guard let last = rows.last else { break }
            var chunk = ""
            for r in rows { chunk += CSVExport.line(Self.cells(r)) }
            try await write(chunk)
            written.rows += rows.count
            if rows.count < batchSize { break }
            after = (last.createdMicros, last.id)
        }
        return written
    }

    /// Every history event with `from <= occurred_at < to`, in id order, as CSV with a header row.
    @discardableResult
    public func events(from: Date, to: Date, by who: Principal, write: (String) async throws -> Void) async throws -> Written {
        try authorize(who)
        let personal = who.allows(.readContactDetails)
        var written = Written()
        try await write(CSVExport.line(Self.eventColumns))
        var after: Int64 = 0
        while true {
            let rows = try await ExportStore.events(from: from, to: to, afterID: after, limit: batchSize, personal: personal, on: db, logger: logger)
            written.batches += 1
            guard let last = rows.last else { break }
            var chunk = ""
            for e in rows { chunk += CSVExport.line(Self.cells(e, personal: personal)) }
            try await write(chunk)
            written.rows += rows.count
            if rows.count < batchSize { break }
            after = last.id
        }
        return written
    }

    static func time(_ d: Date?) -> String { d.map(Timestamp.rfc3339) ?? "" }

    static func cells(_ r: RequestExportRow) -> [String] {
        [
            r.id.lowercasedString, r.reference, r.kind, r.state, r.department, r.division, r.serviceName, r.assigneeEmail ?? "",
            time(r.createdAt), time(r.updatedAt), time(r.infoCompleteAt), time(r.slaDueAt), time(r.slaMetAt),
            r.missingItems.joined(separator: " "), r.contactName ?? "", r.contactEmail ?? "", r.contactPhone ?? "", r.signOffName ?? "",
            r.signOffEmail ?? "",
        ]
    }

    /// Without `personal`, an actor recorded by email address (a sign-off owner, a service contact) is left empty.
    static func cells(_ e: EventExportRow, personal: Bool) -> [String] {
        let actor = e.actorID.map { personal || !$0.contains("@") ? $0 : "" } ?? ""
        return [
            String(e.id), e.requestID.lowercasedString, e.reference, String(e.version), e.kind, e.actorKind, actor, time(e.occurredAt), e.data,
        ]
    }
}
