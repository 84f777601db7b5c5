import CallboardDomain
import CallboardServices
import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import CallboardStorage

/// `GET /api/v1/requests.csv`, `GET /api/v1/events.csv` and the staff pages' exports: exact CSV,
/// spreadsheet-safe cells, contact details only for admin and triager, the list's filters, the
/// period's errors, and batches of 1,000 rows (never the whole result at once).
@Suite struct ExportTests {
    static let logger = TestDatabase.logger

    static let header =
        "id,reference,kind,state,department,division,service_name,assignee_email,created_at,updated_at,info_complete_at,"
        + "preview_due_at,preview_met_at,missing_items,contact_name,contact_email,contact_phone,sign_off_name,sign_off_email\r\n"

    /// A complete request whose service name looks like a formula, and one still missing most items.
    static func twoRequests(_ app: TestApp) async throws -> (complete: RequestRecord, partial: RequestRecord) {
        var items = Items.all
        items["service"] = Items.provided([
            "name": .string("=HYPERLINK(\"https://evil.example\",\"Click\")"), "description": .string("Drivers renew"),
            "start_page_url": .string("https://www.gov.uk/renew-driving-licence"),
        ])
        let a = try await app.call(.post, "/api/v1/requests", json: Items.request(items))
        app.clock.advance(by: 60)
        let b = try await app.call(
            .post, "/api/v1/requests", json: Items.request(["contact": Items.contact], kind: "non_transactional", department: "HMRC"))
        let complete = try await RequestStore.fetch(UUID(uuidString: a.json["id"]!.stringValue!)!, on: app.db, logger: logger)!
        let partial = try await RequestStore.fetch(UUID(uuidString: b.json["id"]!.stringValue!)!, on: app.db, logger: logger)!
        return (complete, partial)
    }

    static func t(_ d: Date?) -> String { d.map(Timestamp.rfc3339) ?? "" }

    static func lines(_ complete: RequestRecord, _ partial: RequestRecord, contacts: Bool) -> String {
        let c = contacts ? "Ada Lovelace,ada@dvla.gov.uk,020 7946 0000,Grace Hopper,grace@dvla.gov.uk" : ",,,,"
        let p = contacts ? "Ada Lovelace,ada@dvla.gov.uk,020 7946 0000,," : ",,,,"
        return header
            + "\(complete.id.lowercasedString),\(complete.reference),transactional,info_complete,DVLA,england-and-wales,"
            + "\"'=HYPERLINK(\"\"https://evil.example\"\",\"\"Click\"\")\",,\(t(complete.createdAt)),\(t(complete.updatedAt)),"
            + "\(t(complete.infoCompleteAt)),\(t(complete.sla?.dueAt)),,,\(c)\r\n"
            + "\(partial.id.lowercasedString),\(partial.reference),non_transactional,requested,HMRC,england-and-wales,,,"
            + "\(t(partial.createdAt)),\(t(partial.updatedAt)),,,,sign_off_contact service,\(p)\r\n"
    }

    @Test func theRequestsExportIsExactSpreadsheetSafeCSV() async throws {
        try await TestApp.run { app in
            let (complete, partial) = try await Self.twoRequests(app)
            #expect(complete.sla != nil)
            let r = try await app.call(.get, "/api/v1/requests.csv")
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(r.headers[.contentDisposition] == "attachment; filename=\"callboard-requests-\(London.date(of: app.clock.now())).csv\"")
            #expect(r.text == Self.lines(complete, partial, contacts: true))
            // A triager sees the contacts too; a viewer gets the same rows with those cells empty.
            let triager = try await app.call(.get, "/api/v1/requests.csv", token: try await app.token(role: .triager))
            #expect(triager.text == Self.lines(complete, partial, contacts: true))
            let viewer = try await app.call(.get, "/api/v1/requests.csv", token: try await app.token(role: .viewer))
            #expect(viewer.status == .ok)
            #expect(viewer.text == Self.lines(complete, partial, contacts: false))
            #expect(try await app.call(.get, "/api/v1/requests.csv", token: "").status == .unauthorized)
        }
    }

    @Test func theListsFiltersApplyAndPagingIsRefused() async throws {
        try await TestApp.run { app in
            let (complete, partial) = try await Self.twoRequests(app)
            let requested = try await app.call(.get, "/api/v1/requests.csv?state=requested")
            #expect(requested.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 2)
            #expect(requested.text.contains(partial.id.lowercasedString) && !requested.text.contains(complete.id.lowercasedString))
            let dvla = try await app.call(.get, "/api/v1/requests.csv?department=dvla&kind=transactional")
            #expect(dvla.text.contains(complete.id.lowercasedString) && !dvla.text.contains(partial.id.lowercasedString))
            let missing = try await app.call(.get, "/api/v1/requests.csv?missing=service")
            #expect(missing.text == Self.header + Self.lines(complete, partial, contacts: true).components(separatedBy: "\r\n")[2] + "\r\n")
            let none = try await app.call(.get, "/api/v1/requests.csv?q=nothing-matches-this")
            #expect(none.text == Self.header)
            for (query, pointer) in [
                ("state=bogus", "/query/state"), ("limit=5", "/query/limit"), ("cursor=abc", "/query/cursor"), ("sort=created", "/query/sort"),
                ("assignee=not-an-email", "/query/assignee"),
            ] {
                let bad = try await app.call(.get, "/api/v1/requests.csv?\(query)")
                #expect(bad.status == .unprocessableContent, "\(query)")
                #expect(bad.headers[.contentType] == "application/problem+json")
                #expect(bad.pointers == [pointer], "\(query)")
            }
        }
    }

    @Test func theEventsExportCoversItsPeriodAndKeepsPersonalDataFromViewers() async throws {
        try await TestApp.run { app in
            _ = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            app.clock.advance(by: 86_400)
            let from = app.clock.now()
            let b = try await app.call(.post, "/api/v1/requests", json: Items.request(["contact": Items.contact]))
            let id = b.json["id"]!.stringValue!
            let comment = try await app.call(.post, "/api/v1/requests/\(id)/comments", json: .object(["text": .string("=cmd|' /C calc'!A0")]))
            #expect(comment.status == .created)
            let events = try await EventStore.list(requestID: UUID(uuidString: id)!, afterID: 0, limit: 50, on: app.db, logger: Self.logger).events
            let header = "id,request_id,reference,version,kind,actor_kind,actor_id,occurred_at,data\r\n"
            let reference = b.json["reference"]!.stringValue!
            // ISO timestamps: exactly the second request's events (its created and email events, the comment).
            let period = try await app.call(.get, "/api/v1/events.csv?from=\(Timestamp.rfc3339(from))")
            #expect(period.status == .ok)
            #expect(period.headers[.contentType] == "text/csv; charset=utf-8")
            let lines = period.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.first == header.replacingOccurrences(of: "\r\n", with: ""))
            #expect(lines.count == 1 + events.count)
            #expect(lines.dropFirst().allSatisfy { $0.contains(id) && $0.contains(reference) })
            // The comment is data, not a formula.
            #expect(period.text.contains("\"{\"\"text\"\": \"\"=cmd|' /C calc'!A0\"\"}\""))
            // Dates: a whole London day; the first request's day holds only its own events.
            let day = London.date(of: from.addingTimeInterval(-86_400))
            let first = try await app.call(.get, "/api/v1/events.csv?from=\(day)&to=\(day)")
            #expect(first.status == .ok)
            #expect(!first.text.contains(id))
            #expect(first.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count > 1)
            // A viewer: no comment text, no email recipient, actors recorded by email left empty.
            let viewer = try await app.call(.get, "/api/v1/events.csv?from=\(Timestamp.rfc3339(from))", token: try await app.token(role: .viewer))
            #expect(viewer.status == .ok)
            #expect(!viewer.text.contains("calc") && !viewer.text.contains("ada@dvla.gov.uk"))
            #expect(viewer.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 1 + events.count)
            let transitions = try await app.call(.get, "/api/v1/events.csv?from=\(day)&to=\(day)", token: try await app.token(role: .viewer))
            #expect(
                transitions.text.contains(
                    ",transitioned,system,,\(Timestamp.rfc3339(from.addingTimeInterval(-86_400))),"
                        + "\"{\"\"to\"\": \"\"info_complete\"\", \"\"from\"\": \"\"requested\"\", \"\"transition\"\": \"\"complete_information\"\"}\"\r\n"
                ))
            for (query, pointer) in [
                ("from=yesterday", "/query/from"), ("to=2026-02-30", "/query/to"), ("from=2026-03-02&to=2026-03-01", "/query/to"),
                ("limit=10", "/query/limit"), ("since=2026-01-01", "/query/since"),
            ] {
                let bad = try await app.call(.get, "/api/v1/events.csv?\(query)")
                #expect(bad.status == .unprocessableContent, "\(query)")
                #expect(bad.headers[.contentType] == "application/problem+json")
                #expect(bad.pointers == [pointer], "\(query)")
            }
        }
    }

    /// 20,000 requests (inserted in SQL) exported over HTTP, and through the service: 20 batches of
    /// 1,000 rows, each written as one chunk, and a last query that finds nothing.
    @Test func twentyThousandRowsAreExportedInBatches() async throws {
        try await TestApp.run { app in
            try await app.db.query(
                """
                INSERT INTO requests (id, kind, state, version, department, division, items, missing_items, service_name,
                    created_at, updated_at, state_entered_at)
                SELECT gen_random_uuid(), 'non_transactional', 'requested', 1, 'Bulk', 'england-and-wales', '{}'::jsonb, '{}', 'Service ' || g,
                    now() - g * interval '1 second', now(), now()
                FROM generate_series(1, 20000) AS g
                """, logger: Self.logger)
            let r = try await app.call(.get, "/api/v1/requests.csv")
            #expect(r.status == .ok)
            let lines = r.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.count == 20_001)
            #expect(Set(lines.dropFirst().map { $0.prefix(36) }).count == 20_000)

            let service = ExportService(db: app.db, time: app.clock, logger: Self.logger)
            var chunks: [Int] = []
            let written = try await service.requests(RequestFilter(), by: Principal(actor: .viewer)) { chunk in
                chunks.append(chunk.components(separatedBy: "\r\n").count - 1)
            }
            #expect(written == ExportService.Written(rows: 20_000, batches: 21))
            #expect(chunks == [1] + Array(repeating: 1000, count: 20))
        }
    }

    @Test func staffExportFromTheBoardWithItsFilters() async throws {
        try await TestApp.run { app in
            let (complete, partial) = try await Self.twoRequests(app)
            let cookie = try await HistoryPagingTests.adminSession(app)
            let board = try await app.call(.get, "/staff?state=requested&department=HM+RC", token: "", headers: [.cookie: "cb_session=\(cookie)"])
            #expect(board.text.contains("<a href=\"/staff/export/requests.csv?state=requested&amp;department=HM%20RC\" download>Download as CSV</a>"))
            let csv = try await app.call(
                .get, "/staff/export/requests.csv?state=requested", token: "", headers: [.cookie: "cb_session=\(cookie)"])
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.text == Self.header + Self.lines(complete, partial, contacts: true).components(separatedBy: "\r\n")[2] + "\r\n")
            let events = try await app.call(.get, "/staff/export/events.csv?from=2020-01-01", token: "", headers: [.cookie: "cb_session=\(cookie)"])
            #expect(events.status == .ok && events.text.hasPrefix("id,request_id,reference,"))
            let bad = try await app.call(.get, "/staff/export/events.csv?from=soon", token: "", headers: [.cookie: "cb_session=\(cookie)"])
            #expect(bad.status == .unprocessableContent)
            // Signed out: sent to sign in.
            let anonymous = try await app.call(.get, "/staff/export/requests.csv", token: "")
            #expect(anonymous.status == .seeOther || anonymous.status == .found)
        }
    }
}
