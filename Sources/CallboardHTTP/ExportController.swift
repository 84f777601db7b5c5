import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore

/// `GET /api/v1/requests.csv` and `GET /api/v1/events.csv`: the CSV exports, streamed a batch at a
/// time (ExportService). Every parameter is checked before the response starts, so a bad one is
/// a 422 problem and never half a file.
struct ExportController {
    let exports: ExportService

    func register(_ r: CatalogedRoutes) {
        r.on(.get, "/requests.csv") { request, context in
            let who = try context.caller()
            try exports.authorize(who)
            let filter = try Self.parseRequestsQuery(request.uri)
            return CSVResponse.make(filename: exports.filename("requests")) { write in
                try await exports.requests(filter, by: who, write: write)
            }
        }
        r.on(.get, "/events.csv") { request, context in
            let who = try context.caller()
            try exports.authorize(who)
            var q = QueryReader(request.uri, allowed: ["from", "to"])
            let period = ExportPeriod.read(&q)
            Self.refusePaging(&q)
            try q.finish()
            return CSVResponse.make(filename: exports.filename("events")) { write in
                try await exports.events(from: period.from, to: period.to, by: who, write: write)
            }
        }
    }

    /// The list's filters, without its paging (an export is the whole list) or its order (oldest first).
    static func parseRequestsQuery(_ uri: URI) throws -> RequestFilter {
        var q = QueryReader(uri, allowed: RequestsController.filterParameters)
        let filter = RequestsController.readFilter(&q)
        refusePaging(&q)
        try q.finish()
        return filter
    }

    /// QueryReader knows `limit` and `cursor` everywhere; an export takes neither.
    static func refusePaging(_ q: inout QueryReader) {
        for key in ["limit", "cursor"] where q.string(key) != nil {
            q.errors.add("/query/\(key)", "is not a parameter of an export: it writes every matching row")
        }
    }
}

/// An export's period: `from` and `to` are each a London date (`2026-03-01`: from its first
/// moment; as `to`, through its last) or an RFC 3339 timestamp (exact; `to` exclusive). Missing,
/// the period is open at that end.
struct ExportPeriod: Sendable, Equatable {
    var from: Date
    var to: Date

    static let earliest = Date(timeIntervalSince1970: 0)
    static let latest = Date(timeIntervalSince1970: 253_402_300_799)  // 9999-12-31T23:59:59Z

    /// Reads `from` and `to` from a query; problems are added to `q.errors`.
    static func read(_ q: inout QueryReader) -> ExportPeriod {
        let from = instant(q.string("from"), end: false, at: "/query/from", &q.errors) ?? earliest
        let to = instant(q.string("to"), end: true, at: "/query/to", &q.errors) ?? latest
        if from >= to, q.errors.isEmpty { q.errors.add("/query/to", "must be after from") }
        return ExportPeriod(from: from, to: to)
    }

    /// The same from a page's query string (as a form sends it).
    static func read(_ q: FormQuery, errors: inout ErrorCollector) -> ExportPeriod {
        let from = instant(q.get("from").flatMap { $0.isEmpty ? nil : $0 }, end: false, at: "from", &errors) ?? earliest
        let to = instant(q.get("to").flatMap { $0.isEmpty ? nil : $0 }, end: true, at: "to", &errors) ?? latest
        if from >= to, errors.isEmpty { errors.add("to", "must be after from") }
        return ExportPeriod(from: from, to: to)
    }

    private static func instant(_ value: String?, end: Bool, at pointer: String, _ errors: inout ErrorCollector) -> Date? {
        guard let value else { return nil }
        if let day = CivilDate(iso: value) { return London.instant(end ? day.adding(days: 1) : day) }
        if value.count <= 40, let t = Timestamp.parse(value), t >= earliest, t <= latest { return t }
        errors.add(pointer, "must be a date (YYYY-MM-DD) or an RFC 3339 timestamp from 1970 to 9999")
        return nil
    }
}

/// A streamed `text/csv` attachment: `body` is given a writer and called once the response starts.
enum CSVResponse {
    static func make(
        filename: String, _ body: @escaping @Sendable (_ write: (String) async throws -> Void) async throws -> Void
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"\(filename)\""
        headers[.cacheControl] = "no-store"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                try await body { text in try await writer.write(ByteBuffer(string: text)) }
                try await writer.finish(nil)
            })
    }
}
