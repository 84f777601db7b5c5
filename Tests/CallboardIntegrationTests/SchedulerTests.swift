import CallboardDomain
import CallboardServices
import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import CallboardStorage

extension TestApp {
    func scheduler(batch: Int = 500, parallel: Int = 2) throws -> ReminderScheduler {
        var s = SchedulerSettings()
        s.batchSize = batch
        s.parallelBatches = parallel
        return ReminderScheduler(
            db: db, time: clock, logger: TestDatabase.logger,
            outbox: EmailOutbox(settings: EmailSettings(), templates: try EmailTemplates.bundled()),
            sla: PreviewSLAHolder(try .bundled()), settings: s)
    }

    /// Moves the test clock to an instant (forwards only).
    func setClock(_ iso: String) {
        let target = ISO8601DateFormatter().date(from: iso)!
        precondition(target >= clock.now())
        clock.advance(by: target.timeIntervalSince(clock.now()))
    }

    /// The reminder digests, by recipient: (recipient, subject, status, text).
    func digests() async throws -> [(String, String, String, String)] {
        try await db.query(
            """
            SELECT recipient, subject, status, body_text FROM emails WHERE kind = 'reminder_digest' ORDER BY recipient, created_at
            """, logger: TestDatabase.logger
        ).collect().map { try $0.decode((String, String, String, String).self) }
    }

    /// 60 requests, each with its own contact and nothing else, and the clock where each owes its
    /// first information reminder.
    func sixtyContactsDueForInformation() async throws {
        for i in 0..<60 {
            _ = try await createRequest([
                "contact": Items.provided([
                    "name": .string("C\(i)"), "email": .string("c\(i)@dvla.gov.uk"), "phone": .string("020 7946 0000"),
                ])
            ])
        }
        setClock("2026-11-20T10:00:00Z")
    }

    func createRequest(_ items: [String: JSONValue]) async throws -> (id: String, etag: String) {
        let r = try await call(.post, "/api/v1/requests", json: Items.request(items))
        return (r.json["id"]!.stringValue!, r.etag!)
    }
}

/// The clock starts Wednesday 18 November 2026, 11:06 London: a working day, inside the window.
@Suite struct SchedulerTests {
    static let team = "performance-platform@localhost.localdomain"

    @Test func missingInformationIsChasedOnceInTheWindowAndSupplyingItCancelsTheQueuedEmail() async throws {
        try await TestApp.run { app in
            let scheduler = try app.scheduler()
            let (id, etag) = try await app.createRequest(["contact": Items.contact, "service": Items.service])
            #expect(try await scheduler.tick().remindersQueued == 0)
            // Friday 20 November: two working days later, the first reminder is owed.
            app.setClock("2026-11-20T10:00:00Z")
            let report = try await scheduler.tick()
            #expect(report.remindersQueued == 1 && report.emailsQueued == 1)
            let mail = try await app.digests()
            #expect(mail.count == 1)
            #expect(mail[0].0 == "ada@dvla.gov.uk" && mail[0].2 == "queued")
            #expect(mail[0].1 == "We still need information for the Renew your driving licence dashboard")
            #expect(mail[0].3.contains("- Cost per transaction: not provided yet"))
            // The link is a fresh task-list link of the contact's own.
            #expect(mail[0].3.contains("http://127.0.0.1:8080/tasks/"))
            #expect(try await app.count("links") == 2)
            // Ticking again, by this or another scheduler, queues nothing more.
            #expect(try await scheduler.tick().remindersQueued == 0)
            #expect(try await app.scheduler().tick().remindersQueued == 0)

            // The contact supplies an item: the reminder still queued is cancelled in the same change.
            let patch = try await app.call(
                .patch, "/api/v1/requests/\(id)", json: .object(["items": .object(["sign_off_contact": Items.signOff])]),
                headers: [.ifMatch: etag])
            #expect(patch.status == .ok)
            #expect(try await app.digests().map(\.2) == ["cancelled"])
            // Only the information request sent at creation goes out; the cancelled reminder never does.
            let transport = RecordingTransport()
            #expect(try await app.worker(transport).runOnce() == 1)
            #expect(transport.sent.withLock { $0.map(\.kind) } == ["information_request"])
            let kinds = try await app.call(.get, "/api/v1/requests/\(id)/events?limit=200").json["items"]!.arrayValue!.map {
                $0["kind"]!.stringValue!
            }
            #expect(kinds == ["created", "email_queued", "reminder_queued", "email_queued", "updated", "email_cancelled", "email_sent"])
            // The next step is a new reminder: Friday 27 November.
            app.setClock("2026-11-27T10:00:00Z")
            #expect(try await scheduler.tick().remindersQueued == 1)
        }
    }

    /// A change that arrives while a scheduler batch holds the request (queuing a reminder the change
    /// answers) waits for the batch, then settles that reminder too: its email is never sent.
    @Test func aChangeWaitingOnASchedulerBatchSettlesWhatTheBatchQueued() async throws {
        try await TestApp.run { app in
            let (id, etag) = try await app.createRequest(["contact": Items.contact, "service": Items.service])
            let rid = UUID(uuidString: id)!
            let now = app.clock.now()
            let key = "\(id):missing_information:test:1"
            let email = NewEmail(
                requestID: rid, kind: "reminder_digest", recipient: "ada@dvla.gov.uk", subject: "s", bodyText: "t", bodyHTML: "h",
                templateData: .object([:]), dedupKey: "digest:test", runAt: now, maxAttempts: 3, messageDomain: "cb.test")
            let locked = AsyncStream<Void>.makeStream()
            let release = AsyncStream<Void>.makeStream()
            // The "batch": lock the request, queue a reminder and its email, hold until told, commit.
            async let batch: Void = app.db.transaction(logger: TestDatabase.logger) { conn in
                _ = try await RequestStore.fetch(rid, lock: true, on: conn, logger: TestDatabase.logger)
                let owed = OwedReminder(kind: .missingInformation, audiences: [.serviceContact], step: 1, dedupKey: key)
                _ = try await ReminderStore.insert(
                    [NewReminder(owed: owed, requestID: rid, dataSetID: nil, recipients: ["ada@dvla.gov.uk"])],
                    at: now, on: conn, logger: TestDatabase.logger)
                _ = try await EmailStore.enqueueMany([email], at: now, on: conn, logger: TestDatabase.logger)
                try await ReminderStore.link([(key, email.id)], on: conn, logger: TestDatabase.logger)
                locked.continuation.yield()
                for await _ in release.stream { break }
            }
            for await _ in locked.stream { break }
            // The contact supplies an item meanwhile: the change waits on the lock.
            async let patch = app.call(
                .patch, "/api/v1/requests/\(id)", json: .object(["items": .object(["sign_off_contact": Items.signOff])]),
                headers: [.ifMatch: etag])
            while try await app.db.query("SELECT count(*)::int8 FROM pg_stat_activity WHERE wait_event_type = 'Lock'", logger: TestDatabase.logger)
                .collect()[0].decode(Int64.self) == 0
            {
                await Task.yield()
            }
            release.continuation.yield()
            try await batch
            #expect(try await patch.status == .ok)
            let status = try await app.db.query("SELECT status FROM emails WHERE id = \(email.id)", logger: TestDatabase.logger).collect()[0].decode(
                String.self)
            #expect(status == "cancelled")
        }
    }

    @Test func nothingGoesOutOfHoursOrOnHolidaysAndTheRowWaitsForTheWindow() async throws {
        try await TestApp.run { app in
            let scheduler = try app.scheduler()
            _ = try await app.createRequest(["contact": Items.contact])
            app.setClock("2026-11-20T17:00:00Z")  // Friday, the window has closed
            #expect(try await scheduler.tick().remindersQueued == 0)
            #expect(try await app.call(.get, "/api/v1/reminders/preview").json["reminders"] == .array([]))
            app.setClock("2026-11-21T12:00:00Z")  // Saturday
            #expect(try await scheduler.tick().remindersQueued == 0)
            app.setClock("2026-11-23T09:29:59Z")  // Monday, a second before the window
            #expect(try await scheduler.tick() == TickReport())  // the row waits for 09:30: not even examined
            app.setClock("2026-11-23T09:30:00Z")
            #expect(try await scheduler.tick().remindersQueued == 1)
        }
    }

    @Test func onePersonsRemindersOfADayGoAsOneDigest() async throws {
        try await TestApp.run { app in
            _ = try await app.createRequest(["contact": Items.contact, "service": Items.service])
            _ = try await app.createRequest(["contact": Items.contact])
            app.setClock("2026-11-20T10:00:00Z")
            let report = try await app.scheduler().tick()
            #expect(report.remindersQueued == 2 && report.emailsQueued == 1)
            let mail = try await app.digests()
            #expect(mail.count == 1)
            #expect(mail[0].1 == "2 things need your attention on the GOV.UK Performance Platform")
            #expect(mail[0].3.contains("We still need information for the Renew your driving licence dashboard"))
            #expect(mail[0].3.contains("We still need information for the your service dashboard"))
            #expect(try await app.count("reminder_emails") == 2)
        }
    }

    /// 60 due in batches of 7: the first batch alone, then loops side by side, then one alone;
    /// every request examined once and chased once, whatever the number of loops.
    @Test(arguments: [1, 2, 3]) func aBusyTickSharesItsBatchesBetweenLoops(parallel: Int) async throws {
        try await TestApp.run { app in
            try await app.sixtyContactsDueForInformation()
            let report = try await app.scheduler(batch: 7, parallel: parallel).tick()
            #expect(report.requestsExamined == 60)
            #expect(report.remindersQueued == 60)
            #expect(report.emailsQueued == 60)
            #expect(try await app.count("reminders") == 60)
            #expect(try await app.digests().count == 60)
            #expect(try await app.scheduler(batch: 7, parallel: parallel).tick().requestsExamined == 0)
        }
    }

    @Test func twoSchedulersTickingTogetherQueueEachReminderOnce() async throws {
        try await TestApp.run { app in
            try await app.sixtyContactsDueForInformation()
            let a = try app.scheduler(batch: 7)
            let b = try app.scheduler(batch: 7)
            async let ra = a.tick()
            async let rb = b.tick()
            let (x, y) = try await (ra, rb)
            #expect(x.remindersQueued + y.remindersQueued == 60)
            #expect(try await app.count("reminders") == 60)
            #expect(try await app.digests().count == 60)
            let perEmail = try await app.db.query("SELECT count(DISTINCT reminder_key)::int8 FROM reminder_emails", logger: TestDatabase.logger)
                .collect()[0].decode(Int64.self)
            #expect(perEmail == 60)
        }
    }

    /// Information complete on 18 November: the promise is at risk from the 24th and broken from the
    /// 26th; sign-off asked on the 18th is chased on the 23rd (3 working days).
    @Test func signOffAndThePreviewPromiseAreChased() async throws {
        try await TestApp.run { app in
            let scheduler = try app.scheduler()
            let id = try await app.requestAwaitingSignOff()
            app.setClock("2026-11-23T10:00:00Z")
            #expect(try await scheduler.tick().remindersQueued == 1)
            #expect(
                try await app.digests().map { [$0.0, $0.1] } == [
                    ["grace@dvla.gov.uk", "Please decide whether the Renew your driving licence dashboard can be published"]
                ])
            app.setClock("2026-11-24T10:00:00Z")
            #expect(try await scheduler.tick().remindersQueued == 1)
            app.setClock("2026-11-26T10:00:00Z")
            #expect(try await scheduler.tick().remindersQueued == 1)
            let team = try await app.digests().filter { $0.0 == Self.team }.map(\.1)
            #expect(
                team == [
                    "Renew your driving licence: the preview is due by the end of Wednesday 25 November 2026",
                    "Renew your driving licence: the preview promise was broken (due by the end of Wednesday 25 November 2026)",
                ])
            // Preview of a later instant: the second sign-off chase on 30 November, and nothing already queued.
            let preview = try await app.call(.get, "/api/v1/reminders/preview?at=2026-11-30T10:00:00Z").json
            #expect(preview["reminders"]?.arrayValue?.map { $0["kind"]! } == [.string("sign_off_undecided")])
            #expect(preview["reminders"]?.arrayValue?.first?["step"] == .number(2))
            #expect(preview["emails"]?.arrayValue?.first?["recipient"] == .string("grace@dvla.gov.uk"))
            #expect(try await app.count("reminders") == 3)
            // The owner approves: the chase stops (the request waits in signoff_pending to be built).
            let etag = try await app.call(.get, "/api/v1/requests/\(id)").etag!
            let approved = try await app.call(
                .post, "/api/v1/requests/\(id)/transitions/approve_sign_off",
                json: .object(["evidence": .string("Email from Grace")]), headers: [.ifMatch: etag])
            #expect(approved.status == .ok)
            let after = try await app.call(.get, "/api/v1/reminders/preview?at=2026-11-30T10:00:00Z").json
            #expect(after["reminders"] == .array([]))
        }
    }

    /// October's data was due Friday 6 November; on the 18th the second overdue reminder is owed
    /// (uploaders only), on Monday 23rd the third, which the service contact and the team hear too.
    @Test func uploadRemindersEscalateAndAnUploadSettlesThem() async throws {
        try await TestApp.run { app in
            let scheduler = try app.scheduler()
            let (id, _) = try await app.createRequest(Items.all)
            let ds = try await app.call(.post, "/api/v1/requests/\(id)/data-sets", json: DataSetAPITests.monthly).json["id"]!.stringValue!
            #expect(try await scheduler.tick().remindersQueued == 1)
            var mail = try await app.digests()
            #expect(mail.map(\.0) == ["sam@dvla.gov.uk"])
            #expect(
                mail[0].1
                    == "Channel volumes data for Thursday 1 October 2026 to Saturday 31 October 2026 was due on Friday 6 November 2026 and has not arrived"
            )
            // Sam's own upload link, bound to Sam and this data set: the queued email names it by its
            // placeholder only; the token is minted when the email is sent.
            let placeholder = mail[0].3.components(separatedBy: "http://127.0.0.1:8080/upload/").dropFirst().first?.prefix { !$0.isWhitespace } ?? ""
            let linkID = try #require(LinkPlaceholder.ids(in: [mail[0].3]).first)
            #expect(placeholder == LinkPlaceholder.text(for: linkID))
            let link = try await app.db.query("SELECT email, data_set_id, purpose FROM links WHERE id = \(linkID)", logger: TestDatabase.logger)
                .collect().first?.decode((String, UUID?, String).self)
            #expect(link?.0 == "sam@dvla.gov.uk" && link?.1?.uuidString.lowercased() == ds && link?.2 == "upload")
            app.setClock("2026-11-23T10:00:00Z")
            #expect(try await scheduler.tick().remindersQueued == 1)
            mail = try await app.digests()
            #expect(Set(mail.map(\.0)) == ["sam@dvla.gov.uk", "ada@dvla.gov.uk", Self.team])
            #expect(mail.filter { $0.2 == "queued" }.count == 4)
            // The upload arrives: everything still queued for it is cancelled, and nothing is sent.
            #expect(try await app.call(.post, "/api/v1/data-sets/\(ds)/uploads").status == .created)
            #expect(try await app.digests().filter { $0.2 == "queued" }.isEmpty)
            // Only Sam's invitation (sent when the data set was created) goes out.
            let transport = RecordingTransport()
            #expect(try await app.worker(transport).runOnce() == 1)
            #expect(transport.sent.withLock { $0.map(\.kind) } == ["upload_invitation"])
            #expect(try await scheduler.tick().remindersQueued == 0)
            // November's data is due soon from Wednesday 2 December (the team also hears that the
            // preview promise, due 25 November, was broken).
            app.setClock("2026-12-02T10:00:00Z")
            #expect(try await scheduler.tick().remindersQueued == 2)
            #expect(
                try await app.digests().last?.1
                    == "Channel volumes data for Sunday 1 November 2026 to Monday 30 November 2026 is due on Monday 7 December 2026")
        }
    }

    /// Live on Wednesday 18 November 2026: the audit starts itself on Monday 4 January 2027.
    @Test func theProductAuditStartsItselfThirtyWorkingDaysAfterGoingLive() async throws {
        try await TestApp.run { app in
            let scheduler = try app.scheduler()
            var (id, etag) = try await app.createRequest(Items.all)
            for (name, body) in [
                ("request_sign_off", nil), ("approve_sign_off", ["evidence": "Email from Grace"]), ("mark_built", nil),
                ("publish_preview", ["preview_url": "https://preview.gov.uk/d"]), ("go_live", ["live_url": "https://www.gov.uk/performance/d"]),
            ] {
                let r = try await app.call(
                    .post, "/api/v1/requests/\(id)/transitions/\(name)",
                    json: body.map { .object($0.mapValues(JSONValue.string)) }, headers: [.ifMatch: etag])
                #expect(r.status == .ok, "\(name): \(r.text)")
                etag = r.etag!
            }
            app.setClock("2026-12-31T12:00:00Z")
            #expect(try await scheduler.tick().auditsStarted == 0)
            app.setClock("2027-01-04T09:30:00Z")
            let report = try await scheduler.tick()
            #expect(report.auditsStarted == 1)
            let r = try await app.call(.get, "/api/v1/requests/\(id)").json
            #expect(r["state"] == .string("product_audit"))
            let events = try await app.call(.get, "/api/v1/requests/\(id)/events?limit=200").json["items"]!.arrayValue!
            let started = events.first { $0["data"]?["transition"] == .string("start_product_audit") }
            #expect(started?["actor"]?["kind"] == .string("system"))
            let told = try await app.db.query(
                "SELECT recipient FROM emails WHERE kind = 'product_audit_started' ORDER BY recipient",
                logger: TestDatabase.logger
            ).collect().map { try $0.decode(String.self) }
            #expect(told == ["ada@dvla.gov.uk", Self.team])
            #expect(try await scheduler.tick().auditsStarted == 0)
        }
    }

    @Test func thePreviewQueuesNothingAndChecksItsQuery() async throws {
        try await TestApp.run { app in
            _ = try await app.createRequest(["contact": Items.contact])
            let p = try await app.call(.get, "/api/v1/reminders/preview?at=2026-11-20T10:00:00Z")
            #expect(p.status == .ok)
            #expect(p.json["reminders"]?.arrayValue?.count == 1 && p.json["truncated"] == .bool(false))
            #expect(p.json["emails"]?.arrayValue?.first?["subject"] == .string("We still need information for the your service dashboard"))
            #expect(try await app.count("reminders") == 0)
            #expect(try await app.digests().isEmpty)
            let bad = try await app.call(.get, "/api/v1/reminders/preview?at=tomorrow&limit=0")
            #expect(bad.status == .unprocessableContent)
            #expect(Set(bad.pointers) == ["/query/at", "/query/limit"])
        }
    }

    /// With many rows and few due, the due queries read their partial indexes, not the table.
    @Test func theRuleQueriesUseTheirIndexes() async throws {
        try await TestApp.run { app in
            try await app.db.query(
                """
                INSERT INTO requests (id, kind, state, department, items, created_at, updated_at, state_entered_at)
                SELECT gen_random_uuid(), 'transactional', 'live', 'DVLA', '{}', now(), now(), now()
                FROM generate_series(1, 20000) g
                """, logger: TestDatabase.logger)
            try await app.db.query(
                """
                INSERT INTO request_schedule (request_id, next_reminder_at)
                SELECT id, CASE WHEN row_number() OVER (ORDER BY id) % 1000 = 0 THEN now() END FROM requests
                ON CONFLICT (request_id) DO UPDATE SET next_reminder_at = excluded.next_reminder_at
                """, logger: TestDatabase.logger)
            try await app.db.query(
                """
                INSERT INTO data_sets (id, request_id, name, cadence, due_working_days, uploaders, created_at, updated_at, next_reminder_at)
                SELECT gen_random_uuid(), r.id, 'd', 'monthly', 5, '[]', now(), now(), CASE WHEN random() < 0.001 THEN now() END
                FROM requests r
                """, logger: TestDatabase.logger)
            try await app.db.query("ANALYZE", logger: TestDatabase.logger)
            func plan(_ q: PostgresQuery) async throws -> String {
                var q = q
                q.sql = "EXPLAIN " + q.sql
                return try await app.db.query(q, logger: TestDatabase.logger).collect().map { try $0.decode(String.self) }.joined(separator: "\n")
            }
            let requests = try await plan(ReminderStore.dueRequestsQuery(at: Date(), limit: 500, lock: true))
            #expect(requests.contains("request_schedule_due_idx"), "\(requests)")
            let dataSets = try await plan(ReminderStore.dueDataSetsQuery(at: Date(), limit: 500, lock: true))
            #expect(dataSets.contains("data_sets_reminder_due_idx"), "\(dataSets)")
        }
    }
}
