import CallboardDomain
import Foundation

/// How the scheduler runs and the rules' cadences, built from `Settings`.
public struct SchedulerSettings: Sendable, Equatable {
    public var intervalSeconds: Double = 60
    /// Rows examined per transaction; a tick runs batches until a short one (or `maxBatchesPerTick`).
    public var batchSize = 500
    public var maxBatchesPerTick = 40
    /// Batch transactions a busy tick runs at once: one renders its emails while another waits
    /// on PostgreSQL (their rows are locked apart, so they never hold the same request).
    public var parallelBatches = 2
    public var rules = ReminderSettings()

    public init() {}

    /// The scheduler settings in `settings`.
    public init(_ settings: Settings) {
        intervalSeconds = settings.schedulerIntervalSeconds
        batchSize = settings.schedulerBatch
        let (m, s, u) = (settings.reminderMissingInformation, settings.reminderSignOff, settings.reminderUpload)
        precondition(m.count == 3 && s.count == 3 && u.count == 4, "reminder cadences hold 3, 3 and 4 numbers")
        (rules.missingInformationFirstAfter, rules.missingInformationEvery, rules.missingInformationMax) = (m[0], m[1], m[2])
        (rules.signOffFirstAfter, rules.signOffEvery, rules.signOffMax) = (s[0], s[1], s[2])
        (rules.uploadDueSoonBefore, rules.uploadOverdueFirstAfter, rules.uploadOverdueEvery, rules.uploadEscalateAfterOverdue) = (
            u[0], u[1], u[2], u[3]
        )
        rules.productAuditAfter = settings.productAuditWorkingDays
        (rules.windowStartMinute, rules.windowEndMinute) = (settings.reminderWindow.lowerBound, settings.reminderWindow.upperBound)
    }
}
