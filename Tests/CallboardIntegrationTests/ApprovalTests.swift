import CallboardDomain
import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import CallboardStorage

/// An approval covers what the sign-off owner saw: a later change to it withdraws the approval
/// while the request waits to be built, and is refused once the dashboard is built.
@Suite struct ApprovalTests {
    func fire(_ app: TestApp, _ id: String, _ name: String, _ etag: String, body: JSONValue? = nil) async throws -> TestResponse {
        try await app.call(.post, "/api/v1/requests/\(id)/transitions/\(name)", json: body, headers: [.ifMatch: etag])
    }

    /// A request whose sign-off the owner's approval (recorded by staff with evidence) has covered.
    func approved(_ app: TestApp) async throws -> (id: String, etag: String) {
        let id = try await app.requestAwaitingSignOff()
        let r = try await app.call(.get, "/api/v1/requests/\(id)")
        let a = try await fire(app, id, "approve_sign_off", r.etag!, body: .object(["evidence": .string("Email from Grace, 3 March")]))
        #expect(a.status == .ok && a.json["sign_off_decision"] == .string("approved"))
        return (id, a.etag!)
    }

    static let renamed: JSONValue = .object([
        "items": .object([
            "service": Items.provided([
                "name": .string("Renew your licence"), "description": .string("Drivers renew their licence online"),
                "start_page_url": .string("https://www.gov.uk/renew-driving-licence"),
            ])
        ])
    ])

    @Test func aChangeAfterApprovalWithdrawsItAndAsksTheOwnerAgain() async throws {
        try await TestApp.run { app in
            let (id, etag) = try await approved(app)
            let changed = try await app.call(.patch, "/api/v1/requests/\(id)", json: Self.renamed, headers: [.ifMatch: etag])
            #expect(changed.status == .ok)
            #expect(changed.json["state"] == .string("signoff_pending") && changed.json["sign_off_decision"] == .null)
            // Nothing is built on the old approval.
            let build = try await fire(app, id, "mark_built", changed.etag!)
            #expect(build.status == .conflict && build.json["unmet_guards"]?.arrayValue?.first?["code"] == .string("sign_off_approved"))
            // The owner is asked again, by a link that shows what changed since they approved.
            let asked = try await app.db.query(
                "SELECT body_text FROM emails WHERE kind = 'sign_off_request' AND dedup_key LIKE '%approval_lost' AND recipient = 'grace@dvla.gov.uk'",
                logger: TestDatabase.logger
            ).collect().map { try $0.decode(String.self) }
            #expect(asked.count == 1)
            #expect(asked.first?.contains("You approved this dashboard, and then its details changed.") == true)
            let linkID = try #require(LinkPlaceholder.ids(in: asked).first)
            let version = try await app.db.query("SELECT request_version FROM links WHERE id = \(linkID)", logger: TestDatabase.logger)
                .collect().first?.decode(Int.self)
            guard case .number(let now) = changed.json["version"] else {
                Issue.record("no version")
                return
            }
            #expect(version == Int(now) - 1)
            let events = try await app.call(.get, "/api/v1/requests/\(id)/events").json["items"]!.arrayValue!
            let update = events.last { $0["kind"] == .string("updated") }
            #expect(update?["data"]?["sign_off_approval_withdrawn"] == .bool(true))
        }
    }

    @Test func fromBuiltOnWhatTheOwnerSawCannotChange() async throws {
        try await TestApp.run { app in
            let (id, etag) = try await approved(app)
            let built = try await fire(app, id, "mark_built", etag)
            #expect(built.status == .ok)
            let refused = try await app.call(.patch, "/api/v1/requests/\(id)", json: Self.renamed, headers: [.ifMatch: built.etag!])
            #expect(refused.status == .conflict)
            #expect(
                refused.json["detail"]
                    == .string("the dashboard was built from what the sign-off owner approved; its items, kind and department can no longer change"))
            #expect(try await app.call(.get, "/api/v1/requests/\(id)").json["version"] == built.json["version"])
            // Staff-only fields stay free.
            let notes = try await app.call(
                .patch, "/api/v1/requests/\(id)", json: .object(["notes": .string("Call Grace")]), headers: [.ifMatch: built.etag!])
            #expect(notes.status == .ok)
        }
    }
}
