import CallboardDomain
import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import CallboardStorage

extension TestApp {
    /// A request missing everything but its contact and service, and a working task-list link for
    /// its contact (ada@dvla.gov.uk): (request id, link token).
    func contactTaskList() async throws -> (id: String, token: String) {
        let created = try await call(.post, "/api/v1/requests", json: Items.request(["contact": Items.contact, "service": Items.service]))
        let id = try #require(created.json["id"]?.stringValue)
        var linkID: UUID?
        for try await l in try await db.query(
            "SELECT id FROM links WHERE request_id = \(UUID(uuidString: id)!) AND purpose = 'contact'", logger: TestDatabase.logger
        ).decode(UUID.self) { linkID = l }
        return (id, try await mintToken(for: try #require(linkID)))
    }

    /// Posts a page form (`application/x-www-form-urlencoded`), as a browser does.
    func postForm(_ path: String, _ fields: [(String, String)]) async throws -> TestResponse {
        try await call(.post, path, token: "", raw: InputSafetyTests.encode(fields), contentType: "application/x-www-form-urlencoded")
    }
}

/// Input that used to answer 500 is refused with a clear message, and no form loses data it does not show.
@Suite struct InputSafetyTests {
    static func encode(_ fields: [(String, String)]) -> String {
        let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        return fields.map {
            "\($0.0.addingPercentEncoding(withAllowedCharacters: plain)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: plain)!)"
        }
        .joined(separator: "&")
    }

    static func unescape(_ s: Substring) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// What a browser submits for the page's form: every named input (checked boxes and radios only),
    /// textarea and selected option, in page order.
    static func formFields(_ html: String) -> [(String, String)] {
        var out: [(String, String)] = []
        for m in html.matches(
            of: #/<input ([^>]*)>|<textarea [^>]*name="([^"]*)"[^>]*>([^<]*)</textarea>|<select [^>]*name="([^"]*)"[^>]*>(.*?)</select>/#)
        {
            if let attributes = m.output.1 {
                guard let name = attributes.firstMatch(of: #/name="([^"]*)"/#)?.output.1 else { continue }
                let value = attributes.firstMatch(of: #/value="([^"]*)"/#).map { unescape($0.output.1) } ?? ""
                if attributes.contains("type=\"checkbox\"") || attributes.contains("type=\"radio\""), !attributes.contains(" checked") { continue }
                out.append((String(name), value))
            } else if let name = m.output.2 {
                out.append((String(name), unescape(m.output.3 ?? "")))
            } else if let name = m.output.4 {
                let selected = m.output.5?.firstMatch(of: #/<option value="([^"]*)" selected>/#).map { unescape($0.output.1) } ?? ""
                out.append((String(name), selected))
            }
        }
        return out
    }

    static func drafts(_ app: TestApp) async throws -> [String] {
        var out: [String] = []
        for try await (item, answers) in try await app.db.query(
            "SELECT item, answers::text FROM item_drafts ORDER BY item", logger: TestDatabase.logger
        )
        .decode((String, String).self) {
            out.append("\(item) \(answers)")
        }
        return out
    }

    /// A NUL in "Save and come back later" shows the form again with the field's error and stores nothing.
    @Test func aNULInADraftShowsTheFormAgainWithAnError() async throws {
        try await TestApp.run { app in
            let (_, token) = try await app.contactTaskList()
            let path = "/tasks/\(token)/items/cost_per_transaction"
            var form = Self.formFields(try await app.call(.get, path, token: "").text).filter { $0.0 != "not_on_explorer_note" }
            form += [("not_on_explorer_note", "In the annual\u{0} report"), ("action", "draft")]
            let answer = try await app.postForm(path, form)
            #expect(answer.status == .unprocessableContent)
            #expect(answer.headers[.contentType]?.hasPrefix("text/html") == true)
            let error = "Where the cost figures are must not contain the NUL character"
            #expect(answer.text.contains("<a href=\"#not_on_explorer_note\">\(error)</a>"))
            #expect(
                answer.text.contains(
                    "<p id=\"not_on_explorer_note-error\" class=\"error-message\"><span class=\"visually-hidden\">Error:</span> \(error)</p>"))
            #expect(try await Self.drafts(app) == [])
        }
    }

    /// A draft keeps only the form's own fields: made-up keys (a NUL in one included) are dropped.
    @Test func aDraftKeepsOnlyTheFormsOwnFields() async throws {
        try await TestApp.run { app in
            let (_, token) = try await app.contactTaskList()
            let path = "/tasks/\(token)/items/digital_take_up"
            let csrf = try #require(Self.formFields(try await app.call(.get, path, token: "").text).first { $0.0 == "csrf" }?.1)
            let answer = try await app.postForm(
                path,
                [
                    ("csrf", csrf), ("action", "draft"), ("spreadsheet_reference", "volumes.xlsx"), ("colour", "red"), ("bad\u{0}key", "x"),
                    ("uploader_9_name", "Sam"), ("uploader_9_email", "sam@dvla.gov.uk"), ("uploader_1_shoe", "9"), ("uploader_01_name", "Zero"),
                    ("goal_1_start", "/start"),
                ])
            #expect(answer.status == .seeOther)
            #expect(
                try await Self.drafts(app) == [
                    #"digital_take_up {"uploader_1_name": "Sam", "uploader_1_email": "sam@dvla.gov.uk", "spreadsheet_reference": "volumes.xlsx"}"#
                ])
            // The draft is shown again in the form's first row.
            let page = try await app.call(.get, path, token: "").text
            #expect(page.contains(#"name="uploader_1_name" type="text" value="Sam""#))
        }
    }

    /// Uploaders and goals staff added over the API beyond the form's three rows survive the
    /// contact saving the form as the page shows it.
    @Test func rowsAddedOverTheAPISurviveTheContactsForm() async throws {
        try await TestApp.run { app in
            let (id, token) = try await app.contactTaskList()
            let uploaders = JSONValue.array(
                (1...4).map { .object(["name": .string("Uploader \($0)"), "email": .string("u\($0)@dvla.gov.uk")]) })
            let goals = JSONValue.array(
                (1...4).map { .object(["name": .string("Goal \($0)"), "start": .string("/start-\($0)"), "completion": .string("/done-\($0)")]) })
            let before = try await app.call(.get, "/api/v1/requests/\(id)")
            let patched = try await app.call(
                .patch, "/api/v1/requests/\(id)",
                json: .object([
                    "items": .object([
                        "digital_take_up": Items.provided(["spreadsheet_reference": .string("volumes.xlsx"), "uploaders": uploaders]),
                        "completion_rate": Items.provided([
                            "analytics_provider": .string("google_analytics"), "read_access_granted": .bool(true), "goals": goals,
                        ]),
                    ])
                ]), headers: [.ifMatch: try #require(before.etag)])
            #expect(patched.status == .ok)

            // The contact changes one other answer of each and saves the form as shown.
            for (item, blank, change) in [
                ("digital_take_up", "uploader_5_name", ("spreadsheet_reference", "volumes-2.xlsx")),
                ("completion_rate", "goal_5_start", ("note", "Goals set up by the team")),
            ] {
                let path = "/tasks/\(token)/items/\(item)"
                let form = Self.formFields(try await app.call(.get, path, token: "").text)
                // Every stored row and a blank one after them.
                #expect(form.contains { $0 == (blank, "") }, "\(item)")
                #expect(!form.contains { $0.0.contains("_6_") }, "\(item)")
                let saved = try await app.postForm(path, form.map { $0.0 == change.0 ? change : $0 })
                #expect(saved.status == .seeOther, "\(item)")
            }
            let after = try await app.call(.get, "/api/v1/requests/\(id)").json["items"]
            #expect(
                after?["digital_take_up"]?["value"]
                    == .object(["spreadsheet_reference": .string("volumes-2.xlsx"), "uploaders": uploaders, "prefers_api": .bool(false)]))
            #expect(
                after?["completion_rate"]?["value"]
                    == .object([
                        "analytics_provider": .string("google_analytics"), "read_access_granted": .bool(true), "goals": goals,
                        "note": .string("Goals set up by the team"),
                    ]))
        }
    }

    /// A hand-made cursor holding a huge number is an invalid cursor (422 naming `/query/cursor`),
    /// not a database error.
    @Test func aCursorOutOfRangeIsRefused() async throws {
        try await TestApp.run { app in
            _ = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = UUID().uuidString
            func cursor(_ text: String) -> String {
                Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                    .replacingOccurrences(of: "=", with: "")
            }
            let huge = "9223372036854775807"
            for path in [
                "/api/v1/requests?cursor=\(cursor("\(huge)|\(id)"))", "/api/v1/requests?cursor=\(cursor("-\(huge)|\(id)"))",
                "/api/v1/requests?sort=sla_due&cursor=\(cursor("1|\(id)|\(huge)"))", "/api/v1/emails?cursor=\(cursor("\(huge)|\(id)"))",
            ] {
                let answer = try await app.call(.get, path)
                #expect(answer.status == .unprocessableContent, "\(path)")
                #expect(answer.headers[.contentType] == "application/problem+json")
                #expect(
                    answer.json["errors"]
                        == .array([.object(["pointer": .string("/query/cursor"), "message": .string("is not a cursor this API gave")])]),
                    "\(path)")
            }
            // The cursors the API gives still work, from either end of the range it allows.
            #expect(ListCursor(encoded: cursor("253402300799999999|\(id)")) != nil)
            #expect(ListCursor(encoded: cursor("-62135596800000000|\(id)|-")) != nil)
            #expect(ListCursor(encoded: cursor("253402300800000000|\(id)")) == nil)
            #expect(ListCursor(encoded: cursor("1|\(id)|-62135596800000001")) == nil)
            #expect(try await app.call(.get, "/api/v1/requests?cursor=\(cursor("0|\(id)"))").json["items"]?.arrayValue?.count == 1)

            // The staff board ignores a cursor it cannot use and shows the first page.
            let session = NewLink.random()
            try await app.db.query(
                """
                INSERT INTO staff_sessions (token_hash, staff_id, csrf, created_at, expires_at)
                SELECT \(LinkStore.hash(session)), id, 'csrf', \(app.clock.now()), \(app.clock.now().addingTimeInterval(3600))
                FROM staff WHERE email = 'admin@callboard.test'
                """, logger: TestDatabase.logger)
            let board = try await app.call(.get, "/staff?cursor=\(cursor("\(huge)|\(id)|-"))", token: "", headers: [.cookie: "cb_session=\(session)"])
            #expect(board.status == .ok)
            #expect(board.text.contains("Renew your driving licence"))
            // An assignee with a NUL names nobody: an empty board, not a 500.
            let nobody = try await app.call(.get, "/staff?assignee=a%00b@x.gov.uk", token: "", headers: [.cookie: "cb_session=\(session)"])
            #expect(nobody.status == .ok)
            #expect(!nobody.text.contains("Renew your driving licence"))
        }
    }

    /// Single-line fields refuse line breaks and control characters over the API; descriptions keep line breaks.
    @Test func singleLineFieldsRefuseLineBreaksAndControlCharacters() async throws {
        try await TestApp.run { app in
            let service = Items.provided([
                "name": .string("Renew\ryour licence"), "description": .string("Drivers renew\r\ntheir licence\u{7}"),
                "start_page_url": .string("https://www.gov.uk/renew-driving-licence"),
            ])
            let contact = Items.provided(["name": .string("Ada\tLovelace"), "email": .string("ada@dvla.gov.uk"), "phone": .string("020 7946 0000")])
            let refused = try await app.call(
                .post, "/api/v1/requests", json: Items.request(["contact": contact, "service": service], department: "DV\nLA"))
            #expect(refused.status == .unprocessableContent)
            #expect(
                refused.json["errors"]
                    == .array([
                        .object(["pointer": .string("/department"), "message": .string("must be on one line, without line breaks")]),
                        .object([
                            "pointer": .string("/items/contact/value/name"), "message": .string("must not contain tabs or other control characters"),
                        ]),
                        .object(["pointer": .string("/items/service/value/name"), "message": .string("must be on one line, without line breaks")]),
                        .object([
                            "pointer": .string("/items/service/value/description"),
                            "message": .string("must not contain tabs or other control characters"),
                        ]),
                    ]))
            let fine = Items.provided([
                "name": .string("Renew your licence"), "description": .string("Drivers renew\r\ntheir licence\n\nonline"),
                "start_page_url": .string("https://www.gov.uk/renew-driving-licence"),
            ])
            let created = try await app.call(.post, "/api/v1/requests", json: Items.request(["contact": Items.contact, "service": fine]))
            #expect(created.status == .created)
            #expect(created.json["items"]?["service"]?["value"]?["description"] == .string("Drivers renew\r\ntheir licence\n\nonline"))
        }
    }
}
