import Foundation

/// Cadences of the reminder rules, in working days (DESIGN §4), and the sending window.
public struct ReminderSettings: Sendable, Equatable {
    public var missingInformationFirstAfter = 2
    public var missingInformationEvery = 5
    public var missingInformationMax = 3
    public var signOffFirstAfter = 3
    public var signOffEvery = 5
    public var signOffMax = 3
    /// Sending window in London time, minutes after midnight: 09:30–17:00.
    public var windowStartMinute = 9 * 60 + 30
    public var windowEndMinute = 17 * 60

    public init() {}
}

/// One reminder a rule says is owed now. The dedup key names the rule, the request and the step,
/// so any number of schedulers queue it once.
public struct OwedReminder: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case missingInformation = "missing_information"
        case missingInformationEscalation = "missing_information_escalation"
        case signOffUndecided = "sign_off_undecided"
        case signOffEscalation = "sign_off_escalation"
    }

    public var kind: Kind
    public var audience: Audience
    /// 1 for the first reminder, 2 for the second, …; the escalation comes after the last.
    public var step: Int
    public var dedupKey: String
}

/// Pure reminder arithmetic: which reminder a waiting request is owed at an instant.
public enum ReminderRules {
    /// Reminders go out on working days inside the window only.
    public static func inSendingWindow(_ now: Date, calendar: WorkingCalendar, settings: ReminderSettings) -> Bool {
        let day = London.date(of: now)
        guard calendar.isWorkingDay(day) else { return false }
        let minutes = Int(now.timeIntervalSince(London.instant(day)) / 60)
        return minutes >= settings.windowStartMinute && minutes < settings.windowEndMinute
    }

    /// The step reached after `elapsed` working days with a first reminder after `first` and then
    /// one every `every`: 0 before the first.
    static func step(elapsed: Int, first: Int, every: Int) -> Int {
        elapsed < first ? 0 : 1 + (elapsed - first) / max(1, every)
    }

    /// Missing information: the service contact after `first` working days, then every `every`, at
    /// most `max` times; then one escalation to the team.
    public static func missingInformation(requestID: UUID, waitingSince: Date, now: Date, calendar: WorkingCalendar,
                                          settings: ReminderSettings) -> OwedReminder? {
        chase(requestID: requestID, rule: "missing_information", since: waitingSince, now: now, calendar: calendar,
              first: settings.missingInformationFirstAfter, every: settings.missingInformationEvery, max: settings.missingInformationMax,
              reminder: (.missingInformation, .serviceContact), escalation: (.missingInformationEscalation, .team))
    }

    /// Sign-off undecided: the sign-off owner after `first` working days, then every `every`, at most
    /// `max` times; then one escalation to the team.
    public static func signOffUndecided(requestID: UUID, askedAt: Date, now: Date, calendar: WorkingCalendar,
                                        settings: ReminderSettings) -> OwedReminder? {
        chase(requestID: requestID, rule: "sign_off", since: askedAt, now: now, calendar: calendar,
              first: settings.signOffFirstAfter, every: settings.signOffEvery, max: settings.signOffMax,
              reminder: (.signOffUndecided, .signOffOwner), escalation: (.signOffEscalation, .team))
    }

    private static func chase(requestID: UUID, rule: String, since: Date, now: Date, calendar: WorkingCalendar, first: Int, every: Int,
                              max: Int, reminder: (OwedReminder.Kind, Audience), escalation: (OwedReminder.Kind, Audience)) -> OwedReminder? {
        let elapsed = calendar.workingDays(after: London.date(of: since), through: London.date(of: now))
        let n = step(elapsed: elapsed, first: first, every: every)
        guard n > 0 else { return nil }
        // The waiting period's start is part of the key: a new wait (reopened, asked again) starts afresh.
        let key = "\(requestID.uuidString.lowercased()):\(rule):\(Int(since.timeIntervalSince1970))"
        if n <= max { return OwedReminder(kind: reminder.0, audience: reminder.1, step: n, dedupKey: "\(key):\(n)") }
        return OwedReminder(kind: escalation.0, audience: escalation.1, step: max + 1, dedupKey: "\(key):escalation")
    }
}
