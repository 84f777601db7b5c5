import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import PostgresNIO
import Testing

/// A real `callboard worker` process, killed with SIGKILL while the SMTP server holds its message.
@Suite struct WorkerProcessTests {
    static let binary: String = {
        // Tests/CallboardIntegrationTests/<this file> → the package root → the debug build.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/callboard").path
    }()

    @Test func killedMidSendIsDeliveredOnceAfterTheLeaseExpires() async throws {
        let smtpDir = try TestSMTP.env("CALLBOARD_TEST_SMTP_DIR")
        try await TestDatabase.with { db, url in
            let outbox = EmailOutbox(settings: EmailSettings(), templates: try EmailTemplates.bundled())
            try await db.transaction(logger: TestDatabase.logger) { conn in
                try await outbox.queue(
                    .live, to: "hangonce-\(UUID().uuidString.prefix(8))@dvla.gov.uk", requestID: nil,
                    context: ["service_name": "Kill test", "live_url": "https://www.gov.uk/x"], dedupKey: nil,
                    at: Date(), on: conn, logger: TestDatabase.logger)
            }
            let messageID = try await db.query("SELECT message_id FROM emails", logger: TestDatabase.logger).collect()[0].decode(String.self)
            let before = Set(try FileManager.default.contentsOfDirectory(atPath: smtpDir).filter { $0.hasPrefix("hanging-") })

            let worker = Process()
            worker.executableURL = URL(fileURLWithPath: Self.binary)
            worker.arguments = ["worker"]
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)"
            env["CALLBOARD_EMAIL_TRANSPORT"] = "smtp"
            env["CALLBOARD_SMTP_HOST"] = "localhost"
            env["CALLBOARD_SMTP_PORT"] = try TestSMTP.env("CALLBOARD_TEST_SMTP_PORT")
            env["CALLBOARD_SMTP_USERNAME"] = "callboard"
            env["CALLBOARD_SMTP_PASSWORD"] = "s3cret-test-password"
            env["CALLBOARD_SMTP_CA_FILE"] = try TestSMTP.env("CALLBOARD_TEST_SMTP_CA")
            env["CALLBOARD_SMTP_TIMEOUT_SECONDS"] = "600"
            env["CALLBOARD_LOG_LEVEL"] = "error"
            worker.environment = env
            try worker.run()

            // Wait (bounded) until the server holds the message: it was handed over, no reply yet.
            var hung: String?
            for _ in 0..<300 where hung == nil {
                let now = Set(try FileManager.default.contentsOfDirectory(atPath: smtpDir).filter { $0.hasPrefix("hanging-") })
                for f in now.subtracting(before) where (try? String(contentsOfFile: smtpDir + "/" + f, encoding: .utf8)) == messageID { hung = f }
                if hung == nil { try await Task.sleep(nanoseconds: 20_000_000) }
            }
            #expect(hung != nil, "the worker never reached the end of DATA")
            kill(worker.processIdentifier, SIGKILL)
            worker.waitUntilExit()
            #expect(worker.terminationReason == .uncaughtSignal)

            let row = try await db.query("SELECT status, attempts FROM emails", logger: TestDatabase.logger).collect()[0].decode((String, Int).self)
            #expect(row.0 == "sending" && row.1 == 1)
            // The dead worker's lease runs out (time moved on, not waited for), and another worker finishes the job.
            try await db.query("UPDATE emails SET lease_until = now() - interval '1 second'", logger: TestDatabase.logger)
            var s = WorkerSettings()
            s.workerID = "rescuer"
            let rescuer = EmailWorker(
                db: db, listenURL: nil, transport: SMTPTransport(settings: try TestSMTP.settings(), logger: TestDatabase.logger),
                settings: s, email: EmailSettings(), logger: TestDatabase.logger)
            #expect(try await EmailStore.reclaimExpired(at: Date(), on: db, logger: TestDatabase.logger) == 1)
            #expect(try await rescuer.runOnce() == 1)
            let after = try await db.query("SELECT status, attempts FROM emails", logger: TestDatabase.logger).collect()[0].decode((String, Int).self)
            #expect(after.0 == "sent" && after.1 == 2)
            // Delivered exactly once, with the Message-ID it had from the start.
            #expect(try TestSMTP.received(messageID).count == 1)
            let outcomes = try await db.query("SELECT outcome FROM email_attempts ORDER BY attempt", logger: TestDatabase.logger)
                .collect().map { try $0.decode(String.self) }
            #expect(outcomes == ["lease_expired", "sent"])
        }
    }

    /// An idle worker with a long poll stops at once on SIGTERM: its wait for work is cancelled,
    /// not slept out past the service group's cancellation deadline (which ends in a fatal error).
    @Test func idleWorkerWithALongPollStopsPromptlyOnSIGTERM() async throws {
        try await TestDatabase.with { db, url in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("idle-worker-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let worker = Process()
            worker.executableURL = URL(fileURLWithPath: Self.binary)
            worker.arguments = ["worker"]
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)"
            env["CALLBOARD_EMAIL_TRANSPORT"] = "file"
            env["CALLBOARD_EMAIL_DIR"] = dir.path
            env["CALLBOARD_WORKER_POLL_SECONDS"] = "600"
            env["CALLBOARD_LOG_LEVEL"] = "error"
            worker.environment = env
            try worker.run()
            // Idle once its LISTEN connection is open and its first poll found nothing.
            var listening = false
            for _ in 0..<500 where !listening {
                listening =
                    try await db.query(
                        """
                        SELECT count(*)::int8 FROM pg_stat_activity
                        WHERE datname = current_database() AND query ILIKE 'LISTEN%callboard_email%'
                        """, logger: TestDatabase.logger
                    ).collect()[0].decode(Int64.self) == 1
                if !listening { try await Task.sleep(nanoseconds: 20_000_000) }
            }
            #expect(listening, "the worker never listened")
            let sent = Date()
            kill(worker.processIdentifier, SIGTERM)
            for _ in 0..<1000 where worker.isRunning { try await Task.sleep(nanoseconds: 10_000_000) }
            let took = Date().timeIntervalSince(sent)
            if worker.isRunning { kill(worker.processIdentifier, SIGKILL) }
            worker.waitUntilExit()
            #expect(worker.terminationReason == .exit && worker.terminationStatus == 0)
            #expect(took < 3, "stopped after \(took) s")
        }
    }
}
