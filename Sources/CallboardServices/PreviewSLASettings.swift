import CallboardDomain
import CallboardStorage
import Crypto
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The working-day calendar and the promise's length, as the services use them.
public struct PreviewSLASettings: Sendable {
    public var holidays: BankHolidays
    public var workingDays: Int

    public init(holidays: BankHolidays, workingDays: Int = 5) {
        self.holidays = holidays
        self.workingDays = workingDays
    }

    /// A snapshot's version: a hash of its bytes, so the same feed always has the same version.
    public static func version(of data: Data) -> String {
        "govuk-" + SHA256.hash(data: data).prefix(6).hexString
    }

    /// Parses a feed snapshot (the GOV.UK JSON) with its content version.
    public static func parse(_ data: Data) throws -> BankHolidays {
        try BankHolidays.parse(data, version: version(of: data))
    }

    /// The GOV.UK snapshot shipped with the program.
    public static func bundled(workingDays: Int = 5) throws -> PreviewSLASettings {
        guard let url = Bundle.module.url(forResource: "bank-holidays", withExtension: "json", subdirectory: "Resources") else {
            throw MigrationError.missingBundle
        }
        return PreviewSLASettings(holidays: try parse(try Data(contentsOf: url)), workingDays: workingDays)
    }

    /// The newest snapshot stored by `callboard calendar refresh`, else the program's own, promising
    /// `workingDays` (`Settings.previewSLAWorkingDays`).
    public static func current(db: PostgresClient, logger: Logger, workingDays: Int = 5) async throws -> PreviewSLASettings {
        if let body = try await CalendarStore.latest(on: db, logger: logger) {
            return PreviewSLASettings(holidays: try parse(Data(body.utf8)), workingDays: workingDays)
        }
        return try bundled(workingDays: workingDays)
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

/// The settings in force, replaceable once the database is reachable (servers load the newest
/// stored snapshot at start-up, after migrating).
public final class PreviewSLAHolder: Sendable {
    private let value: Mutex<PreviewSLASettings>
    public init(_ settings: PreviewSLASettings) { value = Mutex(settings) }
    public var current: PreviewSLASettings { value.withLock { $0 } }
    public func replace(_ settings: PreviewSLASettings) { value.withLock { $0 = settings } }
}
