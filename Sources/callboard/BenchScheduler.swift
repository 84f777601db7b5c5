import ArgumentParser
import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// The scheduler benchmark (run by `bench/scheduler_bench.sh`): seeds requests and data sets, then
/// times ticks at a fixed instant when nothing is due and when `--due` reminders are, beside the
/// bare due queries run on the same connection pool as a baseline. Prints one JSON object.
struct BenchScheduler: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-scheduler", abstract: "Benchmark scheduler ticks (development).",
        shouldDisplay: false)
    @OptionGroup var database: DatabaseOptions
    @Option var requests = 100_000
    @Option(name: .customLong("data-sets")) var dataSets = 300_000
    @Option var due = 1_000
    @Option var rounds = 5
    @Option(name: .customLong("idle-ticks")) var idleTicks = 200
    /// A working Wednesday, 10:00 London: inside the sending window.
    @Option var at = "2026-12-02T10:00:00Z"
    @Flag(help: "Run even on a database that holds requests outside the department `Bench`")
    var force = false

    struct FixedTime: TimeSource {
        let instant: Date
        func now() -> Date { instant }
    }

    func run() async throws {
        let settings = try database.settings()
        let logger = Logs.bootstrap(settings)
        guard let now = Timestamp.parse(at) else { throw ValidationError("--at must be an RFC 3339 instant") }
        let (force, url) = (self.force, try settings.database())
        try await withDatabase(settings, logger: logger) { client in
            try await Migrator(migrations: try Migration.bundled(), logger: logger).requireCurrent(client)
            // Its requests are all in the department `Bench` (DevelopmentData.benchScheduler); ticks
            // queue reminders and emails, so it must not run where other requests live.
            try await DevelopmentData.benchScheduler.requireOwnData(force: force, database: url.description, on: client, logger: logger)
            let outbox = EmailOutbox(settings: EmailSettings(settings), templates: try EmailTemplates.bundled())
            let sla = PreviewSLAHolder(try await .current(db: client, logger: logger, workingDays: settings.previewSLAWorkingDays))
            try await seed(client, outbox: outbox, sla: sla, now: now, logger: logger)
            let scheduler = ReminderScheduler(
                db: client, time: FixedTime(instant: now), logger: logger, outbox: outbox, sla: sla,
                settings: SchedulerSettings(settings))

            // Baseline: the two due queries alone, as a tick with nothing due runs them.
            func rawDueQueries() async throws {
                try await client.withConnection { conn in
                    _ = try await ReminderStore.dueRequests(at: now, limit: 500, lock: false, on: conn, logger: logger)
                    _ = try await ReminderStore.dueDataSets(at: now, limit: 500, lock: false, on: conn, logger: logger)
                }
            }
            for _ in 0..<20 {
                try await rawDueQueries()
                try await scheduler.tick()
            }  // warm up connections and plans
            var baseline: [Double] = []
            var idle: [Double] = []
            for _ in 0..<idleTicks {
                baseline.append(try await timed { try await rawDueQueries() })
                idle.append(try await timed { _ = try await scheduler.tick() })
            }
            // Due: `due` requests waiting for information for three working days, a fresh set each round.
            var busy: [Double] = []
            var queued = 0
            var ownCPU = 0.0
            var postgresCPU = 0.0
            for round in 0..<rounds {
                try await client.query(
                    """
                    UPDATE request_schedule SET next_reminder_at = \(now.addingTimeInterval(-60))
                    WHERE request_id IN (SELECT id FROM requests WHERE department = 'Bench' ORDER BY id OFFSET \(round * due) LIMIT \(due))
                    """, logger: logger)
                var report = TickReport()
                let (own, postgres) = (CPUTime.ownSeconds(), CPUTime.postgresSeconds())
                busy.append(try await timed { report = try await scheduler.tick() })
                ownCPU += CPUTime.ownSeconds() - own
                postgresCPU += CPUTime.postgresSeconds() - postgres
                queued += report.remindersQueued
            }
            func ms(_ xs: [Double], _ q: Double) -> Double {
                let s = xs.sorted()
                return (s[min(s.count - 1, Int(Double(s.count) * q))] * 1000 * 100).rounded() / 100
            }
            let result: JSONValue = .object([
                "requests": .number(Double(requests)), "data_sets": .number(Double(dataSets)),
                "idle_tick_ms_p50": .number(ms(idle, 0.5)), "idle_tick_ms_p99": .number(ms(idle, 0.99)),
                "baseline_due_queries_ms_p50": .number(ms(baseline, 0.5)),
                "due": .number(Double(due)), "due_tick_ms_p50": .number(ms(busy, 0.5)), "due_tick_ms_max": .number(ms(busy, 1)),
                // Where a due tick's time goes: CPU of this process and of every PostgreSQL process.
                "due_tick_cpu_ms_callboard": .number((ownCPU / Double(rounds) * 1000).rounded()),
                "due_tick_cpu_ms_postgres": .number((postgresCPU / Double(rounds) * 1000).rounded()),
                "reminders_queued": .number(Double(queued)), "peak_rss_mb": .number(Double(peakRSSKilobytes() / 1024)),
            ])
            print(result.serializedString)
        }
    }

    private func timed(_ body: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        try await body()
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// One request made through the store, then cloned in SQL (contact addresses made unique), and
    /// three data sets each; every row's next look is in the future, as after a quiet tick.
    private func seed(_ client: PostgresClient, outbox: EmailOutbox, sla: PreviewSLAHolder, now: Date, logger: Logger) async throws {
        let existing = try await client.query("SELECT count(*)::int8 FROM requests", logger: logger).collect()[0].decode(Int64.self)
        guard existing == 0 else { return }
        let waiting = now.addingTimeInterval(-7 * 86_400)
        let service = RequestService(db: client, time: FixedTime(instant: waiting), logger: logger, outbox: outbox, sla: sla)
        let contact: JSONValue = .object([
            "status": .string("provided"),
            "value": .object([
                "name": .string("Bench Contact"), "email": .string("bench@example.gov.uk"), "phone": .string("020 7946 0000"),
            ]),
        ])
        let template = try await service.create(
            .object([
                "kind": .string("transactional"), "department": .string("Bench"),
                "items": .object(["contact": contact]),
            ]),
            by: Principal(actor: .admin, email: "bench@callboard.local"))
        try await client.query(
            """
            INSERT INTO requests (id, kind, state, version, department, division, items, missing_items, optional_modules, service_name,
                                  notes, created_at, updated_at, state_entered_at)
            SELECT gen_random_uuid(), kind, state, 1, department, division,
                   jsonb_set(items, '{contact,value,email}', to_jsonb('c' || g || '@example.gov.uk')), missing_items, optional_modules,
                   'Service ' || g, notes, created_at, updated_at, state_entered_at
            FROM requests CROSS JOIN generate_series(2, \(requests)) g WHERE id = \(template.id)
            """, logger: logger)
        try await client.query(
            """
            INSERT INTO request_schedule (request_id, next_reminder_at)
            SELECT id, \(now) + interval '1 day' + (row_number() OVER (ORDER BY id) % 1440) * interval '1 minute' FROM requests
            ON CONFLICT (request_id) DO UPDATE SET next_reminder_at = excluded.next_reminder_at
            """, logger: logger)
        let perRequest = max(1, dataSets / max(1, requests))
        try await client.query(
            """
            INSERT INTO data_sets (id, request_id, name, cadence, due_working_days, uploaders, created_at, updated_at, next_reminder_at)
            SELECT gen_random_uuid(), r.id, 'Data set ' || k, (ARRAY['weekly', 'monthly', 'quarterly'])[k % 3 + 1], 5,
                   '[{"name": "Uploader", "email": "uploader@example.gov.uk"}]', r.created_at, r.created_at,
                   \(now) + interval '1 day' + (k * 7 % 1440) * interval '1 minute'
            FROM requests r CROSS JOIN generate_series(1, \(perRequest)) k
            """, logger: logger)
        try await client.query("VACUUM ANALYZE", logger: logger)
    }

    private func peakRSSKilobytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }
}
