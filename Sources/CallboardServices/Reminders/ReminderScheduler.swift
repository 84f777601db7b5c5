import CallboardDomain
import CallboardStorage
import Crypto
import Foundation
import Logging
import Metrics
import PostgresNIO
import Tracing

/// A reminder the rules owe now, with its words.
public struct PlannedReminder: Sendable {
    public var reminder: NewReminder
    public var item: DigestItem
}

/// One digest email: a recipient's reminders of one tick.
public struct PlannedDigest: Sendable {
    public var email: NewEmail
    public var reminderKeys: [String]
    /// The recipient's own links in it (upload pages), stored with the email.
    public var links: [NewLink] = []
}

/// What one tick did.
public struct TickReport: Sendable, Equatable {
    public var requestsExamined = 0
    public var dataSetsExamined = 0
    public var remindersQueued = 0
    public var emailsQueued = 0
    public var auditsStarted = 0
    public init() {}

    mutating func add(_ other: TickReport) {
        requestsExamined += other.requestsExamined
        dataSetsExamined += other.dataSetsExamined
        remindersQueued += other.remindersQueued
        emailsQueued += other.emailsQueued
        auditsStarted += other.auditsStarted
    }
}

/// What a tick at an instant would queue (the dry run).
public struct ReminderPreview: Sendable {
    public var at: Date
    public var reminders: [PlannedReminder]
    public var digests: [PlannedDigest]
    public var truncated: Bool
}

/// Runs the reminder rules over the database. Each tick reads only rows whose `next_reminder_at`
/// has come (locked, others skipped, so schedulers on several machines split the work), records the
/// owed reminders under their dedup keys (whoever inserts one queues it), gathers each person's
/// reminders into one digest email, starts due product audits, and stores when to look again —
/// all in one transaction per batch, so a crash loses nothing and repeats nothing.
public struct ReminderScheduler: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let outbox: EmailOutbox
    let slaHolder: PreviewSLAHolder
    let requests: RequestService
    public let settings: SchedulerSettings

    public init(db: PostgresClient, time: any TimeSource, logger: Logger, outbox: EmailOutbox, sla: PreviewSLAHolder, settings: SchedulerSettings) {
        self.db = db
        self.time = time
        self.logger = logger
        self.outbox = outbox
        self.slaHolder = sla
        self.settings = settings
        self.requests = RequestService(db: db, time: time, logger: logger, outbox: outbox, sla: sla)
    }

    /// One tick: batches until the due rows run out. Traced as one `scheduler tick` trace.
    @discardableResult
    public func tick() async throws -> TickReport {
        try await withSpan("scheduler tick") { span in
            let report = try await untracedTick()
            span.attributes["callboard.scheduler.requests_examined"] = report.requestsExamined
            span.attributes["callboard.scheduler.data_sets_examined"] = report.dataSetsExamined
            span.attributes["callboard.scheduler.reminders_queued"] = report.remindersQueued
            span.attributes["callboard.scheduler.emails_queued"] = report.emailsQueued
            span.attributes["callboard.scheduler.audits_started"] = report.auditsStarted
            return report
        }
    }

    /// The first batch runs alone, so a quiet tick is one transaction. When it was full, more is
    /// due: `parallelBatches` loops share the rest of the tick's batches, and a last batch alone
    /// takes what one loop skipped because another held it (a data set whose request was locked).
    private func untracedTick() async throws -> TickReport {
        var report = TickReport()
        let started = ContinuousClock.now
        var left = settings.maxBatchesPerTick
        let (first, full) = try await batch()
        report.add(first)
        left -= 1
        if full, left > 0 {
            let loops = max(1, min(settings.parallelBatches, left - 1))
            let shares = (0..<loops).map { i in (left - 1) / loops + (i < (left - 1) % loops ? 1 : 0) }
            left -= shares.reduce(0, +)
            try await withThrowingTaskGroup(of: TickReport.self) { group in
                for share in shares where share > 0 {
                    group.addTask {
                        var part = TickReport()
                        for _ in 0..<share {
                            let (b, full) = try await batch()
                            part.add(b)
                            if !full { break }
                        }
                        return part
                    }
                }
                for try await part in group { report.add(part) }
            }
            for _ in 0..<left {
                let (b, full) = try await batch()
                report.add(b)
                if !full { break }
            }
        }
        let elapsed = ContinuousClock.now - started
        Timer(label: "callboard_scheduler_tick_seconds").recordNanoseconds(
            elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        if report.remindersQueued > 0 || report.auditsStarted > 0 {
            logger.info(
                "scheduler tick",
                metadata: [
                    "requests_examined": "\(report.requestsExamined)", "data_sets_examined": "\(report.dataSetsExamined)",
                    "reminders_queued": "\(report.remindersQueued)", "emails_queued": "\(report.emailsQueued)",
                    "audits_started": "\(report.auditsStarted)",
                ])
        }
        return report
    }

    /// What a tick at `at` would queue, without queueing anything: reminders already queued are left out.
    public func preview(at: Date, limit: Int) async throws -> ReminderPreview {
        try await db.withConnection { conn in
            let due = try await ReminderStore.dueRequests(at: at, limit: limit + 1, lock: false, on: conn, logger: logger)
            let dataSets = try await ReminderStore.dueDataSets(at: at, limit: limit + 1, lock: false, on: conn, logger: logger)
            let e = try await evaluate(Array(due.prefix(limit)), Array(dataSets.prefix(limit)), at: at, on: conn)
            let existing = try await ReminderStore.existing(e.planned.map(\.reminder.owed.dedupKey), on: conn, logger: logger)
            let fresh = e.planned.filter { !existing.contains($0.reminder.owed.dedupKey) }
            return ReminderPreview(
                at: at, reminders: fresh, digests: digests(fresh, at: at, withLinks: false),
                truncated: due.count > limit || dataSets.count > limit)
        }
    }

    /// One batch in its own transaction; true when it was full (more may be due).
    private func batch() async throws -> (TickReport, Bool) {
        try await db.transaction(logger: logger) { conn in try await runBatch(on: conn) }
    }

    private func runBatch(on conn: PostgresConnection) async throws -> (TickReport, Bool) {
        let now = time.now()
        let due = try await DatabaseSpan.statement("SELECT requests") {
            try await ReminderStore.dueRequests(at: now, limit: settings.batchSize, lock: true, on: conn, logger: logger)
        }
        let dataSets = try await DatabaseSpan.statement("SELECT data_sets") {
            try await ReminderStore.dueDataSets(at: now, limit: settings.batchSize, lock: true, on: conn, logger: logger)
        }
        var report = TickReport()
        (report.requestsExamined, report.dataSetsExamined) = (due.count, dataSets.count)
        guard !due.isEmpty || !dataSets.isEmpty else { return (report, false) }
        let e = try await evaluate(due, dataSets, at: now, on: conn)
        try await ReminderStore.setNext(table: .requests, e.nextRequest, on: conn, logger: logger)
        try await ReminderStore.setNext(table: .dataSets, e.nextDataSet, on: conn, logger: logger)
        let fresh = try await DatabaseSpan.statement("INSERT reminders") {
            try await ReminderStore.insert(e.planned.map(\.reminder), at: now, on: conn, logger: logger)
        }
        var planned = e.planned.filter { fresh.contains($0.reminder.owed.dedupKey) }
        report.remindersQueued = planned.count
        // The contact and the sign-off owner get a fresh link of their own (earlier ones stay valid).
        var pageLinks: [NewLink] = []
        for i in planned.indices {
            let p = planned[i]
            guard let r = e.records[p.reminder.requestID] else { continue }
            let kind: EmailKind? =
                switch p.reminder.owed.kind {
                case .missingInformation: .informationRequest
                case .signOffUndecided: .signOffRequest
                default: nil
                }
            for link in outboxLinks(kind, r, at: now) {
                pageLinks.append(link)
                planned[i].item.link = outbox.url(link)
            }
        }
        try await LinkStore.insertMany(pageLinks, on: conn, logger: logger)
        let mail = digests(planned, at: now, withLinks: true)
        try await LinkStore.insertMany(mail.flatMap(\.links), on: conn, logger: logger)
        let queued = try await DatabaseSpan.statement("INSERT emails") {
            try await EmailStore.enqueueMany(mail.map(\.email), at: now, on: conn, logger: logger)
        }
        report.emailsQueued = queued.count
        try await ReminderStore.link(
            mail.filter { queued[$0.email.id] != nil }.flatMap { d in d.reminderKeys.map { ($0, d.email.id) } },
            on: conn, logger: logger)
        for p in planned {
            Counter(label: "callboard_reminders_queued_total", dimensions: [("kind", p.reminder.owed.kind.rawValue)]).increment()
        }
        // A breached preview promise is an event (queued once: the reminder's dedup key settles it).
        for p in planned where p.reminder.owed.kind == .previewBreached {
            guard let r = e.records[p.reminder.requestID] else { continue }
            try await WebhookStore.enqueue(WebhookEvents.breached(r, at: now), on: conn, logger: logger)
        }
        // A due product audit starts (as `system`); its transition tells the team and the service contact.
        for p in planned where p.reminder.owed.kind == .productAuditDue {
            guard var record = e.records[p.reminder.requestID], record.state == .live else { continue }
            try await requests.startProductAudit(&record, on: conn)
            report.auditsStarted += 1
        }
        return (report, due.count == settings.batchSize || dataSets.count == settings.batchSize)
    }

    private func outboxLinks(_ kind: EmailKind?, _ r: RequestRecord, at now: Date) -> [NewLink] {
        Array(outbox.pageLinks(for: kind, r, calendar: slaHolder.current.calendar(for: r.division), at: now).values)
    }

    struct Evaluation {
        var planned: [PlannedReminder] = []
        var nextRequest: [UUID: Date?] = [:]
        var nextDataSet: [UUID: Date?] = [:]
        var records: [UUID: RequestRecord] = [:]
    }

    /// The rules over the due rows at `now`: what is owed (only inside the sending window of the
    /// request's division; otherwise the row waits for the window to open) and when to look again.
    private func evaluate(_ due: [RequestRecord], _ dataSets: [DueDataSet], at now: Date, on conn: PostgresConnection) async throws -> Evaluation {
        let sla = slaHolder.current
        let rules = settings.rules
        var e = Evaluation()
        for r in due { e.records[r.id] = r }
        let missing = Set(dataSets.map(\.dataSet.requestID)).subtracting(e.records.keys)
        for (id, r) in try await ReminderStore.fetchRequests(Array(missing), on: conn, logger: logger) { e.records[id] = r }

        func plan(_ owed: OwedReminder, _ r: RequestRecord, _ d: DataSetRecord?) {
            var recipients: [String] = []
            for audience in owed.audiences {
                switch audience {
                case .uploaders: recipients += d?.uploaders.map(\.email) ?? []
                case .team: recipients += [outbox.settings.teamAddress].compactMap { $0 }
                case .serviceContact, .signOffOwner:
                    // Nobody named yet: the team hears instead, so the chase is not lost.
                    recipients += [Notifications.recipient(audience, checklist: r.checklist, teamAddress: nil) ?? outbox.settings.teamAddress]
                        .compactMap { $0 }
                }
            }
            var seen = Set<String>()
            recipients = recipients.filter { seen.insert($0.lowercased()).inserted }
            let item = ReminderMessages.item(owed, request: r, dataSet: d, sla: sla, reminders: rules, baseURL: outbox.settings.baseURL, now: now)
            e.planned.append(
                PlannedReminder(reminder: NewReminder(owed: owed, requestID: r.id, dataSetID: d?.id, recipients: recipients), item: item))
        }

        for r in due {
            let calendar = sla.calendar(for: r.division)
            let outcome = ReminderRules.evaluate(r.reminderFacts, now: now, calendar: calendar, settings: rules)
            if outcome.owed.isEmpty {
                e.nextRequest[r.id] = outcome.next
            } else if !ReminderRules.inSendingWindow(now, calendar: calendar, settings: rules) {
                e.nextRequest[r.id] = ReminderRules.nextWindowStart(after: now, calendar: calendar, settings: rules)
            } else {
                e.nextRequest[r.id] = outcome.next
                for owed in outcome.owed { plan(owed, r, nil) }
            }
        }
        for d in dataSets {
            guard d.requestState != .withdrawn, let r = e.records[d.dataSet.requestID] else {
                e.nextDataSet[d.dataSet.id] = .some(nil)
                continue
            }
            let calendar = sla.calendar(for: d.division)
            let today = London.date(of: now)
            // The period owed when the data set was set up is the first one chased.
            let firstOwed = d.dataSet.schedule.currentPeriod(on: London.date(of: d.dataSet.createdAt)).start
            let (owed, next) = ReminderRules.upload(
                dataSetID: d.dataSet.id, schedule: d.dataSet.schedule, today: today,
                received: d.receivedPeriods, firstOwed: firstOwed, calendar: calendar, settings: rules)
            if let owed, !ReminderRules.inSendingWindow(now, calendar: calendar, settings: rules) {
                e.nextDataSet[d.dataSet.id] = ReminderRules.nextWindowStart(after: now, calendar: calendar, settings: rules)
            } else {
                e.nextDataSet[d.dataSet.id] = London.instant(next)
                if let owed { plan(owed, r, d.dataSet) }
            }
        }
        return e
    }

    /// One email per recipient, carrying all of their reminders (in a stable order). With
    /// `withLinks`, each upload reminder links to an upload page of the recipient's own.
    func digests(_ planned: [PlannedReminder], at now: Date, withLinks: Bool) -> [PlannedDigest] {
        var byRecipient: [String: (address: String, items: [PlannedReminder])] = [:]
        for p in planned {
            for address in p.reminder.recipients { byRecipient[address.lowercased(), default: (address, [])].items.append(p) }
        }
        return byRecipient.keys.sorted().map { key in
            let (address, items) = byRecipient[key]!
            let keys = items.map(\.reminder.owed.dedupKey)
            let requestIDs = Set(items.map(\.reminder.requestID))
            var links: [NewLink] = []
            let sections = items.map { p -> DigestItem in
                var item = p.item
                if p.reminder.owed.kind.rule == .upload, address.lowercased() == outbox.settings.teamAddress?.lowercased() {
                    // The team acts from its own page of the request.
                    item.link = "\(outbox.settings.baseURL)/staff/requests/\(p.reminder.requestID.lowercasedString)"
                } else if withLinks, let ds = p.reminder.dataSetID, p.reminder.owed.kind.rule == .upload {
                    let link = NewLink(
                        purpose: .upload, requestID: p.reminder.requestID, email: address, requestVersion: 0, at: now,
                        expiresAt: now.addingTimeInterval(Double(outbox.settings.contactLinkDays) * 86_400), dataSetID: ds)
                    links.append(link)
                    item.link = outbox.url(link)
                }
                return item
            }
            let context = TemplateValue.object([
                "single": .flag(items.count == 1), "count": .text(String(items.count)), "headline": .text(sections[0].headline),
                "items": .list(sections.map(\.context)), "link": .text(sections[0].link),
            ])
            let digestKey = SHA256.hash(data: Data(keys.sorted().joined(separator: "\n").utf8)).prefix(12).hexString
            let email = outbox.draft(
                .reminderDigest, to: address, requestID: requestIDs.count == 1 ? requestIDs.first : nil, values: context,
                dedupKey: "digest:\(key):\(digestKey)", runAt: now)
            return PlannedDigest(email: email, reminderKeys: keys, links: links)
        }
    }
}
