import CallboardDomain
import CallboardServices
import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import CallboardStorage

/// The staff request page and the sign-off page read one page of a request's history, never all of it.
@Suite struct HistoryPagingTests {
    static let logger = TestDatabase.logger

    /// Appends `count` events numbered 1… to a request's history (`request_events` takes INSERTs only).
    static func insertEvents(
        _ db: PostgresClient, request: String, count: Int, version: Int, kind: String, data: String
    ) async throws {
        try await db.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
                    SELECT '\(request)'::uuid, \(version), '\(kind)', 'admin', 'admin@callboard.test', now(), \(data)
                    FROM generate_series(1, \(count)) AS g ORDER BY g
                    """), logger: logger)
    }

    /// A session cookie for the admin, as signing in would set it.
    static func adminSession(_ app: TestApp) async throws -> String {
        let session = NewLink.random()
        try await app.db.query(
            """
            INSERT INTO staff_sessions (token_hash, staff_id, csrf, created_at, expires_at)
            SELECT \(LinkStore.hash(session)), id, 'csrf', \(app.clock.now()), \(app.clock.now().addingTimeInterval(3600))
            FROM staff WHERE email = 'admin@callboard.test'
            """, logger: logger)
        return session
    }

    /// The timeline's entries (their titles and details, as text) and the "Show older events" and
    /// "Show the newest events" links of a staff request page.
    static func timeline(_ html: String) -> (entries: [String], older: String?, newest: String?) {
        guard let list = html.firstMatch(of: #/<ol class="timeline">(.*?)</ol>/#.dotMatchesNewlines()) else { return ([], nil, nil) }
        let entries = list.output.1.matches(of: #/<li><strong>([^<]*)</strong>.*?(?:<br>([^<]*))?</li>/#).map {
            "\($0.output.1): \($0.output.2 ?? "")"
        }
        let older = html.firstMatch(of: #/<a href="([^"]*)">Show older events</a>/#).map { String($0.output.1) }
        let newest = html.firstMatch(of: #/<a href="([^"]*)">Show the newest events</a>/#).map { String($0.output.1) }
        return (entries, older, newest)
    }

    @Test func theStaffPageShowsTheNewest50EventsAndPagesBackThroughTheRest() async throws {
        try await TestApp.run { app in
            let created = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = created.json["id"]!.stringValue!
            // 2 events so far (created, complete_information), then 500 comments.
            try await Self.insertEvents(
                app.db, request: id, count: 500, version: 1, kind: "comment", data: "jsonb_build_object('text', 'Comment ' || g)")
            let cookie = try await Self.adminSession(app)
            func page(_ path: String) async throws -> (entries: [String], older: String?, newest: String?) {
                let r = try await app.call(.get, path, token: "", headers: [.cookie: "cb_session=\(cookie)"])
                #expect(r.status == .ok)
                return Self.timeline(r.text)
            }

            let first = try await page("/staff/requests/\(id)")
            #expect(first.entries == (451...500).reversed().map { "Comment: Comment \($0)" })
            let oldestShown = try await app.db.query(
                "SELECT id FROM request_events WHERE data->>'text' = 'Comment 451'", logger: Self.logger
            ).collect()[0].decode(Int64.self)
            #expect(first.older == "/staff/requests/\(id)?before=\(oldestShown)")
            #expect(first.newest == nil)

            let second = try await page(try #require(first.older))
            #expect(second.entries == (401...450).reversed().map { "Comment: Comment \($0)" })
            #expect(second.newest == "/staff/requests/\(id)")

            // Paging on to the start: 10 pages of 50, then the 2 first events, with no older link.
            var sizes = [first.entries.count, second.entries.count]
            var last = second
            while let older = last.older {
                last = try await page(older)
                sizes.append(last.entries.count)
            }
            #expect(sizes == Array(repeating: 50, count: 10) + [2])
            #expect(last.entries == ["Complete information: ", "Created: "])
        }
    }

    /// The sign-off page reads only the names of the fields changed since its link was sent: an event
    /// it does not show (here one whose number no reader could take) is never read.
    @Test func theSignOffPageReadsOnlyTheChangesSinceItsLink() async throws {
        try await TestApp.run { app in
            let id = try await app.requestAwaitingSignOff()
            let link = try await app.db.query(
                "SELECT id, request_version FROM links WHERE request_id = \(UUID(uuidString: id)!) AND purpose = 'sign_off'", logger: Self.logger
            ).collect()[0].decode((UUID, Int).self)
            let token = try await app.mintToken(for: link.0)
            // Before the link: a change the owner saw, and an unreadable comment.
            try await Self.insertEvents(
                app.db, request: id, count: 1, version: link.1, kind: "updated", data: #"'{"changes": {"completion_rate": {}}}'::jsonb"#)
            try await Self.insertEvents(app.db, request: id, count: 1, version: link.1, kind: "comment", data: #"'{"text": 1e400}'::jsonb"#)
            // Since the link: 500 changes, of three fields.
            try await Self.insertEvents(
                app.db, request: id, count: 500, version: link.1 + 1, kind: "updated",
                data:
                    #"CASE WHEN g = 250 THEN '{"changes": {"digital_take_up": {}, "contact": {}}}'::jsonb ELSE '{"changes": {"service": {}}}'::jsonb END"#
            )

            let page = try await app.call(.get, "/sign-off/\(token)", token: "")
            #expect(page.status == .ok)
            #expect(page.text.contains("<p>These details have changed since we emailed you: service, contact, digital_take_up.</p>"))

            // Decided: the page names who decided and when, from the one decision event.
            let csrf = try #require(page.text.firstMatch(of: #/name="csrf" value="([^"]+)"/#)).output.1
            let version = try #require(page.text.firstMatch(of: #/name="version" value="([^"]+)"/#)).output.1
            let decided = try await app.call(
                .post, "/sign-off/\(token)", token: "", raw: "csrf=\(csrf)&version=\(version)&decision=approve",
                contentType: "application/x-www-form-urlencoded")
            #expect(decided.status == .ok)
            #expect(decided.text.contains("Dashboard approved"))
            let again = try await app.call(.get, "/sign-off/\(token)", token: "")
            let day = London.date(of: app.clock.now()).longText
            #expect(again.text.contains("The Renew your driving licence dashboard was approved by grace@dvla.gov.uk on \(day)."))
        }
    }
}
