/// The team's figures for a span and filters (docs/team-performance.md): what the performance
/// page draws, `GET /api/v1/stats` returns, and the definitions page explains. Fields are in the
/// API's snake_case when encoded with `JSONCodec`.
public struct TeamFigures: Sendable, Equatable, Codable {
    public var period: PeriodInfo
    public var filters: Filters
    public var promise: Promise
    public var stages: [StageDurations]
    public var endToEnd: Durations
    public var whereTimeGoes: WhereTimeGoes
    public var flow: Flow
    public var reminders: Reminders
    public var uploads: [DataSetUploads]

    public struct PeriodInfo: Sendable, Equatable, Codable {
        public var from: String
        public var to: String
        public var label: String
        public var months: [String]
        public var calendarVersion: String

        public init(from: String, to: String, label: String, months: [String], calendarVersion: String) {
            self.from = from
            self.to = to
            self.label = label
            self.months = months
            self.calendarVersion = calendarVersion
        }
    }

    public struct Filters: Sendable, Equatable, Codable {
        public var division: String?
        public var department: String?
        public var kind: String?
        public init(division: String? = nil, department: String? = nil, kind: String? = nil) {
            self.division = division
            self.department = department
            self.kind = kind
        }
    }

    /// The preview promise, by the month its due date fell in.
    public struct Promise: Sendable, Equatable, Codable {
        public var months: [PromiseMonth]
        public var kept: Int
        public var broken: Int
        /// kept / (kept + broken), nil when no promise fell due.
        public var keptShare: Double?
        public var breachedNow: Int
        public var atRiskNow: Int

        public init(months: [PromiseMonth], kept: Int, broken: Int, keptShare: Double?, breachedNow: Int, atRiskNow: Int) {
            self.months = months
            self.kept = kept
            self.broken = broken
            self.keptShare = keptShare
            self.breachedNow = breachedNow
            self.atRiskNow = atRiskNow
        }
    }

    public struct PromiseMonth: Sendable, Equatable, Codable {
        public var month: String
        public var kept: Int
        public var broken: Int
        public var keptShare: Double?

        public init(month: String, kept: Int, broken: Int, keptShare: Double?) {
            self.month = month
            self.kept = kept
            self.broken = broken
            self.keptShare = keptShare
        }
    }

    /// Median, 90th percentile and count of one measure.
    public struct Summary: Sendable, Equatable, Codable {
        public var median: Double?
        public var p90: Double?

        public init(median: Double?, p90: Double?) {
            self.median = median
            self.p90 = p90
        }
    }

    public struct Durations: Sendable, Equatable, Codable {
        public var count: Int
        public var workingDays: Summary
        public var calendarDays: Summary

        public init(count: Int, workingDays: Summary, calendarDays: Summary) {
            self.count = count
            self.workingDays = workingDays
            self.calendarDays = calendarDays
        }
    }

    public struct StageDurations: Sendable, Equatable, Codable {
        public var stage: Stage
        public var title: String
        public var count: Int
        public var workingDays: Summary
        public var calendarDays: Summary

        public init(stage: Stage, title: String, count: Int, workingDays: Summary, calendarDays: Summary) {
            self.stage = stage
            self.title = title
            self.count = count
            self.workingDays = workingDays
            self.calendarDays = calendarDays
        }
    }

    /// For requests that went live in the span: each stage's part of their elapsed time.
    public struct WhereTimeGoes: Sendable, Equatable, Codable {
        public var requests: Int
        public var stages: [StageShare]
        /// Sign-off (asked to decided) took longer in all than building (approved to built).
        public var signOffLongerThanBuilding: Bool?

        public init(requests: Int, stages: [StageShare], signOffLongerThanBuilding: Bool?) {
            self.requests = requests
            self.stages = stages
            self.signOffLongerThanBuilding = signOffLongerThanBuilding
        }
    }

    public struct StageShare: Sendable, Equatable, Codable {
        public var stage: Stage
        public var title: String
        /// Share of the calendar time of all these requests' six stages, 0 to 1.
        public var share: Double
        public var totalWorkingDays: Int
        public var totalCalendarDays: Double

        public init(stage: Stage, title: String, share: Double, totalWorkingDays: Int, totalCalendarDays: Double) {
            self.stage = stage
            self.title = title
            self.share = share
            self.totalWorkingDays = totalWorkingDays
            self.totalCalendarDays = totalCalendarDays
        }
    }

    public struct Flow: Sendable, Equatable, Codable {
        public var months: [FlowMonth]
        public var open: [OpenState]

        public init(months: [FlowMonth], open: [OpenState]) {
            self.months = months
            self.open = open
        }
    }

    public struct FlowMonth: Sendable, Equatable, Codable {
        public var month: String
        public var created: Int
        public var withdrawn: Int
        public var wentLive: Int

        public init(month: String, created: Int, withdrawn: Int, wentLive: Int) {
            self.month = month
            self.created = created
            self.withdrawn = withdrawn
            self.wentLive = wentLive
        }
    }

    /// Requests open now (not live, in audit or withdrawn) in one state, with their age in calendar days.
    public struct OpenState: Sendable, Equatable, Codable {
        public var state: RequestState
        public var count: Int
        public var medianAgeDays: Double?
        public var oldestAgeDays: Double?

        public init(state: RequestState, count: Int, medianAgeDays: Double?, oldestAgeDays: Double?) {
            self.state = state
            self.count = count
            self.medianAgeDays = medianAgeDays
            self.oldestAgeDays = oldestAgeDays
        }
    }

    public struct Reminders: Sendable, Equatable, Codable {
        public var months: [ReminderMonth]
        public var kinds: [ReminderFollowUp]

        public init(months: [ReminderMonth], kinds: [ReminderFollowUp]) {
            self.months = months
            self.kinds = kinds
        }
    }

    public struct ReminderMonth: Sendable, Equatable, Codable {
        public var month: String
        public var kind: String
        public var sent: Int

        public init(month: String, kind: String, sent: Int) {
            self.month = month
            self.kind = kind
            self.sent = sent
        }
    }

    /// Reminders owed in the span, and how many were settled by the action within 2 working days.
    public struct ReminderFollowUp: Sendable, Equatable, Codable {
        public var kind: String
        public var reminders: Int
        public var followedWithinTwoWorkingDays: Int
        public var share: Double?

        public init(kind: String, reminders: Int, followedWithinTwoWorkingDays: Int, share: Double?) {
            self.kind = kind
            self.reminders = reminders
            self.followedWithinTwoWorkingDays = followedWithinTwoWorkingDays
            self.share = share
        }
    }

    public struct DataSetUploads: Sendable, Equatable, Codable {
        public var dataSetID: String
        public var requestID: String
        public var reference: String
        public var name: String
        public var cadence: Cadence
        public var onTime: Int
        public var late: Int
        public var lateWorkingDays: [Int]
        public var missing: Int

        public init(
            dataSetID: String, requestID: String, reference: String, name: String, cadence: Cadence, onTime: Int, late: Int, lateWorkingDays: [Int],
            missing: Int
        ) {
            self.dataSetID = dataSetID
            self.requestID = requestID
            self.reference = reference
            self.name = name
            self.cadence = cadence
            self.onTime = onTime
            self.late = late
            self.lateWorkingDays = lateWorkingDays
            self.missing = missing
        }
    }

    /// `a / b`, rounded to three places; nil when `b` is 0.
    public static func share(_ a: Int, of b: Int) -> Double? {
        b == 0 ? nil : (Double(a) / Double(b) * 1000).rounded() / 1000
    }

    public init(
        period: PeriodInfo, filters: Filters, promise: Promise, stages: [StageDurations], endToEnd: Durations, whereTimeGoes: WhereTimeGoes,
        flow: Flow, reminders: Reminders, uploads: [DataSetUploads]
    ) {
        self.period = period
        self.filters = filters
        self.promise = promise
        self.stages = stages
        self.endToEnd = endToEnd
        self.whereTimeGoes = whereTimeGoes
        self.flow = flow
        self.reminders = reminders
        self.uploads = uploads
    }
}
