import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// A clock the caller moves (the seed's back-dated history runs the real services on it).
public final class ManualTime: TimeSource {
    private let current: Mutex<Date>
    public init(_ start: Date) { current = Mutex(start) }
    public func now() -> Date { current.withLock { $0 } }
    public func set(_ instant: Date) { current.withLock { $0 = max($0, instant) } }
}

/// `callboard seed`'s back-dated history: `count` requests created on working days over the
/// `months` before `end`, each taken through the real services (create, supplying items, the
/// lifecycle's transitions, sign-off decisions by their owners, data sets and uploads) on a clock
/// moved forward day by day, so every timestamp, event and preview promise is back-dated and
/// consistent. The reminder scheduler ticks at 10:00 on Mondays. Stretches are drawn from
/// a fixed-seed generator (the same history every run): information 2–15 working days, waiting to
/// ask 0–2, sign-off 3–25, building 1–5, preview 1–3, preview to live 2–10; about 1 in 10 reopened,
/// 1 in 10 sent back by the sign-off owner, 1 in 12 withdrawn; 1 in 8 in Scotland and 1 in 12 in
/// Northern Ireland. Requests created late in the period are still on their way at `end`.
public struct DemoHistory: Sendable {
    let db: PostgresClient
    let logger: Logger
    let outbox: EmailOutbox
    let sla: PreviewSLAHolder
    public var count: Int
    public var months: Int
    public var seed: UInt64
    /// Who creates the requests and fires staff transitions (DevelopmentData.seed's marker).
    public var staffEmail: String

    public init(
        db: PostgresClient, logger: Logger, outbox: EmailOutbox, sla: PreviewSLAHolder, count: Int = 150, months: Int = 12,
        seed: UInt64 = 2026, staffEmail: String
    ) {
        self.db = db
        self.logger = logger
        self.outbox = outbox
        self.sla = sla
        self.count = count
        self.months = months
        self.seed = seed
        self.staffEmail = staffEmail
    }

    public struct Summary: Sendable, Equatable {
        public var requests = 0
        public var transitions = 0
        public var uploads = 0
        public var reminderTicks = 0
    }

    /// One request's journey: what it does next and when.
    struct Journey {
        var id: UUID?
        var version = 0
        var plan: [(days: Int, step: Step)]
        var next: Date
        var division: String
        var body: JSONValue
        var ownerEmail: String
        var dataSet: UUID?
        var uploadsLeft = 0
    }

    enum Step {
        case create, supply, reopen, resupply, askSignOff, approve, requestChanges, build, preview, goLive, withdraw, dataSet, upload
    }

    public func run(until end: Date) async throws -> Summary {
        var rng = SplitMix(seed: seed)
        let start = end.addingTimeInterval(-Double(months) * 30.4 * 86_400)
        let clock = ManualTime(start)
        let requests = RequestService(db: db, time: clock, logger: logger, outbox: outbox, sla: sla)
        let dataSets = DataSetService(db: db, time: clock, logger: logger, sla: sla, outbox: outbox)
        let scheduler = ReminderScheduler(db: db, time: clock, logger: logger, outbox: outbox, sla: sla, settings: SchedulerSettings())
        let staff = Principal(actor: .admin, email: staffEmail)
        let span = end.timeIntervalSince(start)

        var journeys: [Journey] = (0..<count).map { i in
            let created = start.addingTimeInterval(span * Double(i) / Double(count) * 0.97)
            return Self.journey(i, created: created, rng: &rng)
        }
        var summary = Summary()
        var day = London.date(of: start)
        let lastDay = London.date(of: end)
        while day <= lastDay {
            let calendar = sla.current.calendar(for: Division.englandAndWales.rawValue)
            // The scheduler runs on Mondays only (a real one ticks every minute): enough for a few
            // reminders and product audits without most of the seed's time going on ticks.
            if calendar.isWorkingDay(day), day.isoWeekday == 1 {
                let tickAt = London.instant(day, hour: 10)
                if tickAt < end {
                    clock.set(tickAt)
                    _ = try await scheduler.tick()
                    summary.reminderTicks += 1
                }
            }
            let dayEnd = min(London.instant(day.adding(days: 1)), end)
            // Every step due today, in time order.
            while let i = journeys.indices.filter({ journeys[$0].next < dayEnd && !journeys[$0].plan.isEmpty }).min(by: {
                journeys[$0].next < journeys[$1].next
            }) {
                clock.set(journeys[i].next)
                try await perform(&journeys[i], requests: requests, dataSets: dataSets, staff: staff, summary: &summary, rng: &rng)
                journeys[i].plan.removeFirst()
                if let following = journeys[i].plan.first {
                    let cal = sla.current.calendar(for: journeys[i].division)
                    var from = clock.now()
                    if following.step == .upload {
                        // Uploads come `days` working days into the month after the one they cover.
                        let today = London.date(of: from)
                        let nextMonth = CivilDate(today.year, today.month, 1).adding(days: 32)
                        from = London.instant(CivilDate(nextMonth.year, nextMonth.month, 1))
                    }
                    journeys[i].next = Self.later(from, workingDays: following.days, calendar: cal, rng: &rng)
                }
            }
            day = day.adding(days: 1)
        }
        return summary
    }

    private func perform(
        _ j: inout Journey, requests: RequestService, dataSets: DataSetService, staff: Principal, summary: inout Summary,
        rng: inout SplitMix
    ) async throws {
        // The scheduler fires transitions of its own (a product audit starting): a stale version is read again.
        func fire(_ name: TransitionName, _ args: [String: String] = [:], by who: Principal? = nil) async throws {
            let body: JSONValue? = args.isEmpty ? nil : .object(args.mapValues(JSONValue.string))
            do {
                j.version = try await requests.transition(j.id!, name, body, expectedVersion: j.version, by: who ?? staff).version
            } catch ServiceError.stale(let current) {
                j.version = try await requests.transition(j.id!, name, body, expectedVersion: current, by: who ?? staff).version
            }
            summary.transitions += 1
        }
        let owner = Principal(actor: .signOffOwner, email: j.ownerEmail)
        let slug = String(j.id?.lowercasedString.prefix(8) ?? "")
        switch j.plan[0].step {
        case .create:
            let record = try await requests.create(j.body, by: staff)
            j.id = record.id
            j.version = record.version
            summary.requests += 1
        case .supply, .resupply:
            var items = ExampleItems.rest
            items["sign_off_contact"] = ExampleItems.person("Pat Senior", j.ownerEmail, "020 7946 0456")
            if j.plan[0].step == .resupply {
                items["service_availability"] = .object([
                    "status": .string("provided"), "value": .object(["health_check_url": .string("https://status.example.gov.uk/\(slug)")]),
                ])
            }
            let record = try await requests.update(j.id!, .object(["items": .object(items)]), expectedVersion: j.version, by: staff)
            j.version = record.version
        case .reopen: try await fire(.reopenInformation, ["reason": "The completion goals point at the wrong pages"])
        case .askSignOff: try await fire(.requestSignOff)
        case .approve: try await fire(.approveSignOff, by: owner)
        case .requestChanges: try await fire(.requestChanges, ["reason": "Please describe the service in plainer words"], by: owner)
        case .build: try await fire(.markBuilt)
        case .preview: try await fire(.publishPreview, ["preview_url": "https://preview.performance.example.gov.uk/\(slug)"])
        case .goLive: try await fire(.goLive, ["live_url": "https://www.gov.uk/performance/\(slug)"])
        case .withdraw: try await fire(.withdraw, ["reason": "The service is being replaced"])
        case .dataSet:
            let view = try await dataSets.create(
                requestID: j.id!,
                .object([
                    "name": .string("Monthly transactions"), "cadence": .string("monthly"),
                    "uploaders": .array([.object(["name": .string("Sam Patel"), "email": .string("sam.patel+\(slug)@example.gov.uk")])]),
                ]), by: staff)
            j.dataSet = view.record.id
        case .upload:
            // The month before this one.
            let today = London.date(of: requests.now)
            let period = CivilDate(today.year, today.month, 1).adding(days: -1)
            let first = CivilDate(period.year, period.month, 1)
            _ = try await dataSets.recordUpload(dataSetID: j.dataSet!, .object(["period_start": .string(first.description)]), by: staff)
            summary.uploads += 1
            if j.uploadsLeft > 1 {
                j.uploadsLeft -= 1
                j.plan.append((Self.monthlyGap(rng: &rng), .upload))
            }
        }
    }

    /// The instant `workingDays` working days after `from`, at a working hour (09:00–17:00).
    static func later(_ from: Date, workingDays: Int, calendar: WorkingCalendar, rng: inout SplitMix) -> Date {
        var day = London.date(of: from)
        var left = workingDays
        while left > 0 || !calendar.isWorkingDay(day) {
            day = day.adding(days: 1)
            if calendar.isWorkingDay(day) { left -= 1 }
        }
        let at = London.instant(day, hour: 9 + rng.below(8), minute: rng.below(60))
        return at > from ? at : from.addingTimeInterval(60 * Double(1 + rng.below(30)))
    }

    /// Working days into the month after the period: within the 5 owed, or (1 in 4) late.
    static func monthlyGap(rng: inout SplitMix) -> Int { rng.below(4) == 0 ? 6 + rng.below(7) : 1 + rng.below(4) }

    static let departments = [
        "DVLA", "HMRC", "DWP", "HMPO", "DEFRA", "MOJ", "Home Office", "Companies House", "Land Registry", "DVSA", "Ofgem", "Student Loans Company",
    ]
    static let services = [
        "Renew a licence", "Apply for a permit", "Book an appointment", "Register a vehicle", "Claim a refund", "Report a change",
        "Pay a fee", "Check an application", "Get a certificate", "Request a copy", "Update your details", "File a return",
    ]

    static func journey(_ i: Int, created: Date, rng: inout SplitMix) -> Journey {
        let dept = departments[rng.below(departments.count)]
        let domain = dept.lowercased().replacingOccurrences(of: " ", with: "")
        let service = "\(services[rng.below(services.count)]) (\(i + 1))"
        let roll = rng.below(24)
        let division: Division = roll < 3 ? .scotland : roll < 5 ? .northernIreland : .englandAndWales
        let owner = "owner\(i + 1)@\(domain).gov.uk"
        let body: JSONValue = .object([
            "kind": .string("transactional"), "department": .string(dept), "division": .string(division.rawValue),
            "items": .object([
                "contact": ExampleItems.person("Jo Bloggs", "jo.bloggs\(i + 1)@\(domain).gov.uk", "020 7946 0123"),
                "service": ExampleItems.service(service, "People use this service online.", "service-\(i + 1)"),
            ]),
        ])
        var plan: [(Int, Step)] = [(0, .create), (2 + rng.below(14), .supply)]
        if rng.below(10) == 0 { plan += [(1 + rng.below(3), .reopen), (1 + rng.below(4), .resupply)] }
        plan.append((rng.below(3), .askSignOff))
        if rng.below(10) == 0 { plan += [(3 + rng.below(8), .requestChanges), (1 + rng.below(3), .askSignOff)] }
        plan += [
            (3 + rng.below(23), .approve), (1 + rng.below(5), .build), (1 + rng.below(3), .preview), (2 + rng.below(9), .goLive),
        ]
        var uploads = 0
        if rng.below(2) == 0 {
            uploads = 2 + rng.below(6)
            plan += [(1, .dataSet), (monthlyGap(rng: &rng), .upload)]
        }
        if rng.below(12) == 0 {
            // Withdrawn somewhere before going live.
            let at = 2 + rng.below(max(1, plan.count - 6))
            plan = Array(plan.prefix(at)) + [(1 + rng.below(5), .withdraw)]
            uploads = 0
        }
        var j = Journey(
            plan: plan.map { (days: $0.0, step: $0.1) }, next: created, division: division.rawValue, body: body, ownerEmail: owner)
        j.uploadsLeft = uploads
        return j
    }
}

/// Items as a service contact would give them (the seed's examples share them).
public enum ExampleItems {
    public static func person(_ name: String, _ email: String, _ phone: String) -> JSONValue {
        .object(["status": .string("provided"), "value": .object(["name": .string(name), "email": .string(email), "phone": .string(phone)])])
    }

    public static func service(_ name: String, _ description: String, _ slug: String) -> JSONValue {
        .object([
            "status": .string("provided"),
            "value": .object([
                "name": .string(name), "description": .string(description), "start_page_url": .string("https://www.gov.uk/\(slug)"),
            ]),
        ])
    }

    public static let rest: [String: JSONValue] = [
        "cost_per_transaction": .object([
            "status": .string("provided"), "value": .object(["not_on_explorer_note": .string("Costs are in the annual report")]),
        ]),
        "user_satisfaction": .object(["status": .string("provided"), "value": .object(["done_page_url": .string("https://www.gov.uk/done/example")])]
        ),
        "completion_rate": .object([
            "status": .string("provided"),
            "value": .object([
                "analytics_provider": .string("google_analytics"), "read_access_granted": .bool(true),
                "goals": .array([.object(["start": .string("/start"), "completion": .string("/confirmation")])]),
            ]),
        ]),
        "digital_take_up": .object([
            "status": .string("provided"),
            "value": .object([
                "spreadsheet_reference": .string("channel-volumes.xlsx"),
                "uploaders": .array([.object(["name": .string("Sam Patel"), "email": .string("sam.patel@example.gov.uk")])]),
            ]),
        ]),
        "service_availability": .object(["status": .string("not_available"), "reason": .string("No health page yet")]),
    ]
}

/// SplitMix64: a small generator with a fixed seed, so the history is the same every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A whole number in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
}
