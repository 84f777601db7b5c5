import Foundation

/// Cadences of the reminder rules, in working days (DESIGN §4), and the sending window.
public struct ReminderSettings: Sendable, Equatable {
    public var missingInformationFirstAfter = 2
    public var missingInformationEvery = 5
    public var missingInformationMax = 3
    public var signOffFirstAfter = 3
    public var signOffEvery = 5
    public var signOffMax = 3
    /// Uploads: "due soon" this many working days before the due date.
    public var uploadDueSoonBefore = 3
    /// Uploads: the first overdue reminder this many working days after the due date, then one every `uploadOverdueEvery`.
    public var uploadOverdueFirstAfter = 1
    public var uploadOverdueEvery = 5
    /// Uploads: from the overdue reminder after this many, the service contact and the team hear too.
    public var uploadEscalateAfterOverdue = 2
    /// The product audit starts this many working days after going live.
    public var productAuditAfter = 30
    /// Sending window in London time, minutes after midnight: 09:30–17:00.
    public var windowStartMinute = 9 * 60 + 30
    public var windowEndMinute = 17 * 60

    public init() {}
}

/// One reminder a rule says is owed now. The dedup key names the rule, the subject, the waiting
/// period and the step, so any number of schedulers queue it once.
public struct OwedReminder: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case missingInformation = "missing_information"
        case missingInformationEscalation = "missing_information_escalation"
        case signOffUndecided = "sign_off_undecided"
        case signOffEscalation = "sign_off_escalation"
        case previewAtRisk = "preview_at_risk"
        case previewBreached = "preview_breached"
        case uploadDueSoon = "upload_due_soon"
        case uploadDue = "upload_due"
        case uploadOverdue = "upload_overdue"
        case productAuditDue = "product_audit_due"

        /// The rule a kind belongs to: what settles one settles all of its rule.
        public var rule: ReminderRule {
            switch self {
            case .missingInformation, .missingInformationEscalation: return .missingInformation
            case .signOffUndecided, .signOffEscalation: return .signOff
            case .previewAtRisk, .previewBreached: return .previewSLA
            case .uploadDueSoon, .uploadDue, .uploadOverdue: return .upload
            case .productAuditDue: return .productAudit
            }
        }
    }

    public var kind: Kind
    /// Who hears; empty when the rule acts instead (the product audit starts and its transition tells people).
    public var audiences: [Audience]
    /// 1 for the first reminder, 2 for the second, …; the escalation comes after the last.
    public var step: Int
    public var dedupKey: String

    public init(kind: Kind, audiences: [Audience], step: Int, dedupKey: String) {
        self.kind = kind
        self.audiences = audiences
        self.step = step
        self.dedupKey = dedupKey
    }
}

/// The rules, by what settles them (DESIGN §4: acting cancels what is still queued for it).
public enum ReminderRule: String, Sendable, CaseIterable {
    case missingInformation = "missing_information"
    case signOff = "sign_off"
    case previewSLA = "preview_sla"
    case upload
    case productAudit = "product_audit"
}

/// What a request's rules say at an instant: the reminders owed, whether the product audit is due,
/// and the next instant anything new can become owed (nil: nothing ever will, as things stand).
public struct RuleOutcome: Sendable, Equatable {
    public var owed: [OwedReminder] = []
    public var next: Date?
    public init(owed: [OwedReminder] = [], next: Date? = nil) {
        self.owed = owed
        self.next = next
    }

    mutating func merge(_ other: RuleOutcome) {
        owed += other.owed
        if let n = other.next { next = min(next ?? n, n) }
    }
}

/// The facts of a request the rules read.
public struct ReminderFacts: Sendable, Equatable {
    public var id: UUID
    public var state: RequestState
    public var stateEnteredAt: Date
    public var slaStartedAt: Date?
    public var slaDueAt: Date?
    public var slaAtRiskAt: Date?
    public var slaMetAt: Date?
    /// The owner has approved (the request waits in `signoff_pending` to be built): nothing to chase.
    public var signOffDecided: Bool

    public init(
        id: UUID, state: RequestState, stateEnteredAt: Date, slaStartedAt: Date? = nil, slaDueAt: Date? = nil,
        slaAtRiskAt: Date? = nil, slaMetAt: Date? = nil, signOffDecided: Bool = false
    ) {
        self.signOffDecided = signOffDecided
        self.id = id
        self.state = state
        self.stateEnteredAt = stateEnteredAt
        self.slaStartedAt = slaStartedAt
        self.slaDueAt = slaDueAt
        self.slaAtRiskAt = slaAtRiskAt
        self.slaMetAt = slaMetAt
    }
}

/// Pure reminder arithmetic: which reminders a request or data set is owed at an instant, and when to look again.
public enum ReminderRules {
    /// Reminders go out on working days inside the window only.
    public static func inSendingWindow(_ now: Date, calendar: WorkingCalendar, settings: ReminderSettings) -> Bool {
        let day = London.date(of: now)
        guard calendar.isWorkingDay(day) else { return false }
        let minutes = Int(now.timeIntervalSince(London.instant(day)) / 60)
        return minutes >= settings.windowStartMinute && minutes < settings.windowEndMinute
    }

    /// The next opening of the sending window after `now` (today's if it has not opened yet).
    public static func nextWindowStart(after now: Date, calendar: WorkingCalendar, settings: ReminderSettings) -> Date {
        var day = London.date(of: now)
        while true {
            let opens = London.instant(day, hour: settings.windowStartMinute / 60, minute: settings.windowStartMinute % 60)
            if calendar.isWorkingDay(day), opens > now { return opens }
            day = day.adding(days: 1)
        }
    }

    /// Every rule that applies to the request in its current state.
    public static func evaluate(_ r: ReminderFacts, now: Date, calendar: WorkingCalendar, settings: ReminderSettings) -> RuleOutcome {
        var out = RuleOutcome()
        switch r.state {
        case .requested:
            out.merge(missingInformation(requestID: r.id, waitingSince: r.stateEnteredAt, now: now, calendar: calendar, settings: settings))
        case .signoffPending where !r.signOffDecided:
            out.merge(signOffUndecided(requestID: r.id, askedAt: r.stateEnteredAt, now: now, calendar: calendar, settings: settings))
        case .live:
            out.merge(productAudit(requestID: r.id, liveSince: r.stateEnteredAt, now: now, calendar: calendar, settings: settings))
        default: break
        }
        if r.state != .withdrawn, r.slaMetAt == nil, let started = r.slaStartedAt, let due = r.slaDueAt, let risk = r.slaAtRiskAt {
            out.merge(previewSLA(requestID: r.id, startedAt: started, dueAt: due, atRiskAt: risk, now: now))
        }
        return out
    }

    /// The step reached after `elapsed` working days with a first reminder after `first` and then
    /// one every `every`: 0 before the first.
    static func step(elapsed: Int, first: Int, every: Int) -> Int {
        elapsed < first ? 0 : 1 + (elapsed - first) / max(1, every)
    }

    /// Missing information: the service contact after `first` working days, then every `every`, at
    /// most `max` times; then one escalation to the team.
    public static func missingInformation(
        requestID: UUID, waitingSince: Date, now: Date, calendar: WorkingCalendar,
        settings: ReminderSettings
    ) -> RuleOutcome {
        chase(
            requestID: requestID, rule: .missingInformation, since: waitingSince, now: now, calendar: calendar,
            first: settings.missingInformationFirstAfter, every: settings.missingInformationEvery, max: settings.missingInformationMax,
            reminder: (.missingInformation, .serviceContact), escalation: (.missingInformationEscalation, .team))
    }

    /// Sign-off undecided: the sign-off owner after `first` working days, then every `every`, at most
    /// `max` times; then one escalation to the team.
    public static func signOffUndecided(
        requestID: UUID, askedAt: Date, now: Date, calendar: WorkingCalendar,
        settings: ReminderSettings
    ) -> RuleOutcome {
        chase(
            requestID: requestID, rule: .signOff, since: askedAt, now: now, calendar: calendar,
            first: settings.signOffFirstAfter, every: settings.signOffEvery, max: settings.signOffMax,
            reminder: (.signOffUndecided, .signOffOwner), escalation: (.signOffEscalation, .team))
    }

    private static func chase(
        requestID: UUID, rule: ReminderRule, since: Date, now: Date, calendar: WorkingCalendar, first: Int, every: Int,
        max: Int, reminder: (OwedReminder.Kind, Audience), escalation: (OwedReminder.Kind, Audience)
    ) -> RuleOutcome {
        let start = London.date(of: since)
        let elapsed = calendar.workingDays(after: start, through: London.date(of: now))
        let n = step(elapsed: elapsed, first: first, every: every)
        // Step n + 1 falls on the working day that makes first + n·every working days.
        let next = n > max ? nil : London.instant(calendar.adding(workingDays: first + n * Swift.max(1, every), to: start).date)
        guard n > 0 else { return RuleOutcome(next: next) }
        // The waiting period's start is part of the key: a new wait (reopened, asked again) starts afresh.
        let key = "\(requestID.lowercasedString):\(rule.rawValue):\(Int(since.timeIntervalSince1970))"
        if n <= max {
            return RuleOutcome(owed: [OwedReminder(kind: reminder.0, audiences: [reminder.1], step: n, dedupKey: "\(key):\(n)")], next: next)
        }
        return RuleOutcome(
            owed: [OwedReminder(kind: escalation.0, audiences: [escalation.1], step: max + 1, dedupKey: "\(key):escalation")],
            next: nil)
    }

    /// The preview promise: the team hears once when it is at risk and once when it is breached.
    public static func previewSLA(requestID: UUID, startedAt: Date, dueAt: Date, atRiskAt: Date, now: Date) -> RuleOutcome {
        let key = "\(requestID.lowercasedString):\(ReminderRule.previewSLA.rawValue):\(Int(startedAt.timeIntervalSince1970))"
        if now >= dueAt {
            return RuleOutcome(owed: [OwedReminder(kind: .previewBreached, audiences: [.team], step: 2, dedupKey: "\(key):breached")])
        }
        if now >= atRiskAt {
            return RuleOutcome(owed: [OwedReminder(kind: .previewAtRisk, audiences: [.team], step: 1, dedupKey: "\(key):at_risk")], next: dueAt)
        }
        return RuleOutcome(next: atRiskAt)
    }

    /// The product audit is due `productAuditAfter` working days after going live: the system starts it.
    public static func productAudit(requestID: UUID, liveSince: Date, now: Date, calendar: WorkingCalendar, settings: ReminderSettings) -> RuleOutcome
    {
        let dueDay = calendar.adding(workingDays: settings.productAuditAfter, to: London.date(of: liveSince)).date
        guard London.date(of: now) >= dueDay else { return RuleOutcome(next: London.instant(dueDay)) }
        let key = "\(requestID.lowercasedString):\(ReminderRule.productAudit.rawValue):\(Int(liveSince.timeIntervalSince1970))"
        return RuleOutcome(owed: [OwedReminder(kind: .productAuditDue, audiences: [], step: 1, dedupKey: key)])
    }

    /// How many finished periods back an unreceived period is still chased: enough for a weekly
    /// data set's overdue reminders (and their escalation) to run their course after newer periods end.
    public static let uploadPeriodsChased = 4

    /// A data set's uploads: the oldest finished period (of the last `uploadPeriodsChased`, none
    /// before `firstOwed`) not yet received that owes a reminder — due soon, due, then overdue (the
    /// first a working day after, then every `uploadOverdueEvery`), to the uploaders, and from the
    /// overdue reminder after `uploadEscalateAfterOverdue` also to the service contact and the team.
    /// A period counts as received once an upload for that period arrived (`received`): an upload
    /// for a later period leaves an earlier one still owed.
    /// `next` is the next day anything changes: a period's next step, or a new period becoming owed.
    public static func upload(
        dataSetID: UUID, schedule: UploadSchedule, today: CivilDate, received: Set<CivilDate>, firstOwed: CivilDate,
        calendar: WorkingCalendar, settings: ReminderSettings
    ) -> (owed: OwedReminder?, next: CivilDate) {
        var periods = [schedule.currentPeriod(on: today)]
        for _ in 1..<uploadPeriodsChased { periods.insert(periods[0].previous(schedule.cadence), at: 0) }
        var next = Period.containing(today, cadence: schedule.cadence).end.adding(days: 1)
        for period in periods where period.start >= firstOwed && !received.contains(period.start) {
            let (owed, periodNext) = uploadStep(
                dataSetID: dataSetID, schedule: schedule, period: period, today: today, calendar: calendar,
                settings: settings)
            next = min(next, periodNext)
            if let owed { return (owed, next) }
        }
        return (nil, next)
    }

    /// One period's step on `today` (nil before "due soon") and the day of its next step.
    static func uploadStep(
        dataSetID: UUID, schedule: UploadSchedule, period: Period, today: CivilDate, calendar: WorkingCalendar,
        settings: ReminderSettings
    ) -> (OwedReminder?, CivilDate) {
        let due = schedule.due(for: period, calendar: calendar).date
        var soon = due
        for _ in 0..<settings.uploadDueSoonBefore { soon = calendar.previousWorkingDay(before: soon) }
        let key = "\(dataSetID.lowercasedString):\(ReminderRule.upload.rawValue):\(period.start)"
        let every = max(1, settings.uploadOverdueEvery)
        func overdueDay(_ n: Int) -> CivilDate { calendar.adding(workingDays: settings.uploadOverdueFirstAfter + (n - 1) * every, to: due).date }
        if today < soon { return (nil, soon) }
        if today < due { return (OwedReminder(kind: .uploadDueSoon, audiences: [.uploaders], step: 1, dedupKey: "\(key):due_soon"), due) }
        let late = calendar.workingDays(after: due, through: today)
        if late < settings.uploadOverdueFirstAfter {
            return (OwedReminder(kind: .uploadDue, audiences: [.uploaders], step: 2, dedupKey: "\(key):due"), overdueDay(1))
        }
        let n = 1 + (late - settings.uploadOverdueFirstAfter) / every
        let audiences: [Audience] = n > settings.uploadEscalateAfterOverdue ? [.uploaders, .serviceContact, .team] : [.uploaders]
        return (OwedReminder(kind: .uploadOverdue, audiences: audiences, step: 2 + n, dedupKey: "\(key):overdue:\(n)"), overdueDay(n + 1))
    }

    /// The rules an update settles: those of a state the request left, the missing-information
    /// chase when items are supplied, the sign-off chase when the owner decides, the preview reminders when the promise changes, everything on withdrawal.
    public static func settled(
        from before: RequestState, to after: RequestState, itemsChanged: Bool, slaChanged: Bool,
        signOffDecided: Bool = false
    ) -> [ReminderRule] {
        if after == .withdrawn { return ReminderRule.allCases }
        var rules: [ReminderRule] = []
        if before == .requested, after != .requested || itemsChanged { rules.append(.missingInformation) }
        if before == .signoffPending, after != .signoffPending || signOffDecided { rules.append(.signOff) }
        if slaChanged { rules.append(.previewSLA) }
        if before == .live, after != .live { rules.append(.productAudit) }
        return rules
    }
}
