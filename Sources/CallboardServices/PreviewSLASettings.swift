import CallboardDomain
import CallboardStorage
import Crypto
import Foundation

/// The working-day calendar and the promise's length, as the services use them.
public struct PreviewSLASettings: Sendable {
    public var holidays: BankHolidays
    public var workingDays: Int

    public init(holidays: BankHolidays, workingDays: Int = 5) {
        self.holidays = holidays
        self.workingDays = workingDays
    }

    /// The GOV.UK snapshot shipped with the program; its version is a hash of its bytes.
    public static func bundled(workingDays: Int = 5) throws -> PreviewSLASettings {
        guard let url = Bundle.module.url(forResource: "bank-holidays", withExtension: "json", subdirectory: "Resources") else {
            throw MigrationError.missingBundle
        }
        let data = try Data(contentsOf: url)
        let version = "govuk-" + SHA256.hash(data: data).prefix(6).map { String(format: "%02x", $0) }.joined()
        return PreviewSLASettings(holidays: try BankHolidays.parse(data, version: version), workingDays: workingDays)
    }

    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> PreviewSLASettings {
        try bundled(workingDays: env["CALLBOARD_PREVIEW_SLA_WORKING_DAYS"].flatMap(Int.init).map { max(1, $0) } ?? 5)
    }

    public func calendar(for division: String) -> WorkingCalendar {
        WorkingCalendar(holidays: holidays, division: Division(rawValue: division) ?? .englandAndWales)
    }

    /// The promise as shown: stored facts plus the calendar's explanation.
    public func view(_ stored: StoredSLA, division: String) -> PreviewSLA {
        let cal = calendar(for: division)
        var sla = PreviewSLA.start(at: stored.startedAt, workingDays: workingDays, calendar: cal)
        // The stored due instant wins (it was promised); the calendar explains it.
        sla.dueAt = stored.dueAt
        sla.atRiskAt = stored.atRiskAt
        sla.metAt = stored.metAt
        sla.calendarVersion = stored.calendarVersion
        return sla
    }
}
