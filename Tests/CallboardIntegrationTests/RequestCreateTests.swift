import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import PostgresNIO
import Synchronization
import Testing

/// A create is one statement: the request as it ends up (complete on arrival: already moved on by
/// complete_information), its events in order, its emails and links; a reference already taken is
/// drawn again, and nothing of the attempt that met it is written.
@Suite(.serialized) struct RequestCreateTests {
    static let logger = TestDatabase.logger
    static let admin = Principal(actor: .admin, email: "ops@callboard.local")

    /// Hands out the given references in turn, then the last again.
    final class References: Sendable {
        let queue: Mutex<[String]>
        init(_ references: [String]) { queue = Mutex(references) }
        func next() -> String { queue.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] } }
    }

    static func service(_ db: PostgresClient, _ references: References) throws -> RequestService {
        let outbox = EmailOutbox(settings: EmailSettings(), templates: try EmailTemplates.bundled())
        var service = RequestService(db: db, time: TestClock(), logger: logger, outbox: outbox, sla: try PreviewSLAHolder(.bundled()))
        service.drawReference = { references.next() }
        return service
    }

    static func rows(_ db: PostgresClient, _ sql: String) async throws -> [String] {
        var out: [String] = []
        for try await line in try await db.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String.self) { out.append(line) }
        return out
    }

    @Test func aCompleteRequestIsStoredMovedOnWithBothEventsInOrder() async throws {
        try await TestDatabase.with { db, _ in
            let service = try Self.service(db, References(["CB-2345-6789"]))
            let r = try await service.create(Items.request(Items.all), by: Self.admin)
            #expect(r.reference == "CB-2345-6789")
            #expect(r.state == .infoComplete && r.version == 2 && r.infoCompleteAt != nil && r.sla != nil)
            let stored = try await RequestStore.fetch(r.id, on: db, logger: Self.logger)
            #expect(stored == r)
            #expect(
                try await Self.rows(db, "SELECT version || ' ' || kind || ' ' || actor_kind FROM request_events ORDER BY id")
                    == ["1 created admin", "2 transitioned system"])
            #expect(try await Self.rows(db, "SELECT count(*)::text FROM request_schedule WHERE request_id = '\(r.id)'") == ["1"])
            #expect(try await Self.rows(db, "SELECT count(*)::text FROM emails") == ["0"])
        }
    }

    @Test func anIncompleteRequestAsksItsContactInTheSameStatement() async throws {
        try await TestDatabase.with { db, _ in
            let service = try Self.service(db, References(["CB-2345-6789"]))
            let r = try await service.create(Items.request(["contact": Items.contact]), by: Self.admin)
            #expect(r.state == .requested && r.version == 1)
            #expect(
                try await Self.rows(db, "SELECT version || ' ' || kind FROM request_events ORDER BY id") == ["1 created", "1 email_queued"])
            #expect(
                try await Self.rows(db, "SELECT kind || ' ' || recipient || ' ' || dedup_key FROM emails")
                    == ["information_request ada@dvla.gov.uk \(r.id.lowercasedString):information_request"])
            #expect(
                try await Self.rows(db, "SELECT purpose || ' ' || email || ' ' || request_version FROM links WHERE request_id = '\(r.id)'")
                    == ["contact ada@dvla.gov.uk 1"])
        }
    }

    @Test func aTakenReferenceIsDrawnAgainAndAnAllTakenOneWritesNothing() async throws {
        try await TestDatabase.with { db, _ in
            let first = try await Self.service(db, References(["CB-2222-2222"])).create(Items.request(Items.all), by: Self.admin)
            let second = try await Self.service(db, References(["CB-2222-2222", "CB-3333-3333"])).create(
                Items.request(Items.all), by: Self.admin)
            #expect(first.reference == "CB-2222-2222" && second.reference == "CB-3333-3333")
            await #expect(throws: ServiceError.conflict("no free reference was found; try again")) {
                _ = try await Self.service(db, References(["CB-3333-3333"])).create(Items.request(["contact": Items.contact]), by: Self.admin)
            }
            #expect(try await Self.rows(db, "SELECT reference FROM requests ORDER BY reference") == ["CB-2222-2222", "CB-3333-3333"])
            #expect(try await Self.rows(db, "SELECT count(*)::text FROM request_events") == ["4"])
            #expect(try await Self.rows(db, "SELECT count(*)::text FROM request_schedule") == ["2"])
            #expect(try await Self.rows(db, "SELECT count(*)::text FROM links") == ["0"])
            #expect(try await Self.rows(db, "SELECT count(*)::text FROM emails") == ["0"])
        }
    }
}
