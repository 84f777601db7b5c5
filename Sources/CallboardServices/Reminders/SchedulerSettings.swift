import CallboardDomain
import Foundation

/// How the scheduler runs and the rules' cadences, from the environment (see README).
public struct SchedulerSettings: Sendable, Equatable {
    public var intervalSeconds: Double = 60
    /// Rows examined per transaction; a tick runs batches until a short one (or `maxBatchesPerTick`).
    public var batchSize = 500
    public var maxBatchesPerTick = 40
    public var rules = ReminderSettings()

    public init() {}

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> SchedulerSettings {
        var s = SchedulerSettings()
        func ints(_ name: String, count: Int) throws -> [Int]? {
            guard let raw = env[name], !raw.isEmpty else { return nil }
            let parts = raw.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == count, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else {
                throw Invalid(description: "\(name) must be \(count) whole numbers separated by commas, got \"\(raw)\"")
            }
            return parts.map { $0! }
        }
        if let raw = env["CALLBOARD_SCHEDULER_INTERVAL_SECONDS"], !raw.isEmpty {
            guard let v = Double(raw), v >= 1 else {
                throw Invalid(description: "CALLBOARD_SCHEDULER_INTERVAL_SECONDS must be at least 1, got \"\(raw)\"")
            }
            s.intervalSeconds = v
        }
        if let v = try ints("CALLBOARD_SCHEDULER_BATCH", count: 1) {
            guard (1...2000).contains(v[0]) else { throw Invalid(description: "CALLBOARD_SCHEDULER_BATCH must be from 1 to 2000, got \(v[0])") }
            s.batchSize = v[0]
        }
        if let v = try ints("CALLBOARD_REMINDER_MISSING_INFORMATION", count: 3) {
            (s.rules.missingInformationFirstAfter, s.rules.missingInformationEvery, s.rules.missingInformationMax) = (v[0], max(1, v[1]), v[2])
        }
        if let v = try ints("CALLBOARD_REMINDER_SIGN_OFF", count: 3) {
            (s.rules.signOffFirstAfter, s.rules.signOffEvery, s.rules.signOffMax) = (v[0], max(1, v[1]), v[2])
        }
        if let v = try ints("CALLBOARD_REMINDER_UPLOAD", count: 4) {
            (s.rules.uploadDueSoonBefore, s.rules.uploadOverdueFirstAfter, s.rules.uploadOverdueEvery, s.rules.uploadEscalateAfterOverdue) = (
                v[0], max(1, v[1]), max(1, v[2]), v[3]
            )
        }
        if let v = try ints("CALLBOARD_PRODUCT_AUDIT_WORKING_DAYS", count: 1) { s.rules.productAuditAfter = v[0] }
        if let raw = env["CALLBOARD_REMINDER_WINDOW"], !raw.isEmpty {
            guard let (start, end) = parseWindow(raw), start < end else {
                throw Invalid(description: "CALLBOARD_REMINDER_WINDOW must look like 09:30-17:00 (London time), got \"\(raw)\"")
            }
            (s.rules.windowStartMinute, s.rules.windowEndMinute) = (start, end)
        }
        return s
    }

    static func parseWindow(_ raw: String) -> (Int, Int)? {
        let ends = raw.split(separator: "-").map { $0.split(separator: ":").map { Int($0.trimmingCharacters(in: .whitespaces)) } }
        guard ends.count == 2, ends.allSatisfy({ $0.count == 2 }) else { return nil }
        var minutes: [Int] = []
        for e in ends {
            guard let h = e[0], let m = e[1], (0...24).contains(h), (0..<60).contains(m), h * 60 + m <= 24 * 60 else { return nil }
            minutes.append(h * 60 + m)
        }
        return (minutes[0], minutes[1])
    }
}
