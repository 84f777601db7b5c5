import CallboardDomain
import Foundation
import Logging
import PostgresNIO
import Testing

@testable import CallboardServices
@testable import CallboardStorage

/// The outbox under faults: a send that stalls past its lease, a worker that dies on every attempt.
@Suite struct WorkerFaultTests {
    static let logger = TestDatabase.logger

    static func enqueue(_ recipients: [String], maxAttempts: Int = 8, at now: Date, on db: PostgresClient) async throws -> [NewEmail] {
        let emails = recipients.enumerated().map { i, to in
            NewEmail(
                requestID: nil, kind: "live", recipient: to, subject: "stall \(i)", bodyText: "t", bodyHTML: "<p>h</p>",
                templateData: .object([:]), dedupKey: nil, runAt: now, maxAttempts: maxAttempts, messageDomain: "callboard.test")
        }
        try await db.withConnection { conn in _ = try await EmailStore.enqueueMany(emails, at: now, on: conn, logger: logger) }
        return emails
    }

    static func statuses(_ db: PostgresClient) async throws -> [String: String] {
        var out: [String: String] = [:]
        for try await (id, s) in try await db.query("SELECT id::text, status FROM emails", logger: logger).decode((String, String).self) {
            out[id] = s
        }
        return out
    }

    /// One send in a batch stalls past the lease (the SMTP server answers it 3 s late, the lease is 1 s):
    /// the others' outcomes are written as soon as they are sent, so a second worker that reclaims
    /// expired leases finds nothing to resend, and every email arrives exactly once.
    @Test func stalledReplyPastTheLeaseSendsEveryOtherEmailOnce() async throws {
        try await TestDatabase.with { db, _ in
            let clock = TestClock()
            let tag = UUID().uuidString.prefix(8).lowercased()
            let emails = try await Self.enqueue(
                ["slow-\(tag)@callboard.test"] + (1...5).map { "ok\($0)-\(tag)@callboard.test" }, at: clock.now(), on: db)
            func worker(_ id: String) throws -> EmailWorker {
                var s = WorkerSettings()
                s.workerID = id
                s.leaseSeconds = 1
                s.concurrency = 6
                return EmailWorker(
                    db: db, listenURL: nil, transport: SMTPTransport(settings: try TestSMTP.settings(), logger: Self.logger), settings: s,
                    email: EmailSettings(), time: clock, logger: Self.logger)
            }
            let a = try worker("a")
            let first = Task { try await a.runOnce() }
            // Wait (bounded) until the five quick ones are recorded as sent while the slow one is still out.
            let fast = emails.dropFirst().map { $0.id.uuidString.lowercased() }
            var recorded = false
            for _ in 0..<100 where !recorded {
                let s = try await Self.statuses(db)
                recorded = fast.allSatisfy { s[$0] == "sent" }
                if !recorded { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(recorded, "the quick sends' outcomes were not written while the slow one was out")
            #expect(try await Self.statuses(db)[emails[0].id.uuidString.lowercased()] == "sending")
            // Every lease that is not kept alive expires; another worker reclaims and sends what it finds.
            clock.advance(by: 5)
            let slowID = emails[0].id
            for _ in 0..<100 {  // the slow send's heartbeat extends its lease from the new time
                let lease = try await db.query("SELECT lease_until FROM emails WHERE id = \(slowID)", logger: Self.logger)
                    .collect().first?.decode(Date?.self)
                if let lease, lease > clock.now() { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await EmailStore.reclaimExpired(at: clock.now(), on: db, logger: Self.logger)
            let b = try worker("b")
            #expect(try await b.runOnce() == 0)
            #expect(try await first.value == 6)
            for e in emails { #expect(try TestSMTP.received(e.messageID).count == 1, "\(e.recipient)") }
            #expect(Set(try await Self.statuses(db).values) == ["sent"])
        }
    }

    /// A worker that dies mid-send every time (its lease expires each attempt) ends the email `dead`
    /// after its last attempt, with an attempt row for each, instead of retrying it forever.
    @Test func reclaimHonoursMaxAttempts() async throws {
        try await TestDatabase.with { db, _ in
            let clock = TestClock()
            let e = try await Self.enqueue(["ada@dvla.gov.uk"], maxAttempts: 2, at: clock.now(), on: db)[0]
            for attempt in 1...2 {
                let claimed = try await EmailStore.claim(limit: 10, worker: "doomed", leaseSeconds: 30, at: clock.now(), on: db, logger: Self.logger)
                #expect(claimed.map(\.attempts) == [attempt])
                clock.advance(by: 31)  // the worker died: its lease runs out
                #expect(try await EmailStore.reclaimExpired(at: clock.now(), on: db, logger: Self.logger) == 1)
            }
            let stored = try await EmailStore.fetch(e.id, on: db, logger: Self.logger)
            #expect(stored?.status == .dead && stored?.attempts == 2)
            #expect(try await EmailStore.attempts(e.id, on: db, logger: Self.logger).map(\.outcome) == ["lease_expired", "lease_expired"])
            #expect(try await EmailStore.claim(limit: 10, worker: "w", leaseSeconds: 30, at: clock.now(), on: db, logger: Self.logger).isEmpty)
        }
    }
}
