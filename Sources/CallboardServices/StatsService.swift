import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// What the figures are asked for: a span and optional filters, as the page's form and the API's
/// query string give them (checked by `StatsQuery.parse`).
public struct StatsQuery: Sendable, Equatable {
    public var period: StatsPeriod
    public var filters: TeamFigures.Filters

    /// Reads `period` (2026-11, 2026-Q3, FY2025-26) or `from`/`to` (YYYY-MM-DD), `division`,
    /// `department` and `kind`; every problem is reported at once, with the parameter's pointer.
    public static func parse(_ get: (String) -> String?, today: CivilDate) -> Result<StatsQuery, ServiceError> {
        var errors: [FieldError] = []
        func text(_ key: String) -> String? {
            guard let v = get(key)?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            if v.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) || v.count > 200 {
                errors.append(FieldError(pointer: "/query/\(key)", message: "must be at most 200 characters without control characters"))
                return nil
            }
            return v
        }
        var period = StatsPeriod.lastTwelveMonths(endingOn: today)
        let named = text("period")
        let from = text("from")
        let to = text("to")
        if let named {
            if from != nil || to != nil {
                errors.append(FieldError(pointer: "/query/period", message: "give either period or from and to, not both"))
            } else if let p = StatsPeriod.named(named) {
                period = p
            } else {
                errors.append(
                    FieldError(
                        pointer: "/query/period",
                        message: "must be a month (2026-11), a quarter (2026-Q3) or a financial year (FY2025-26)"))
            }
        } else if from != nil || to != nil {
            let f = from.flatMap(CivilDate.init(iso:))
            let t = to.flatMap(CivilDate.init(iso:))
            if from != nil, f == nil { errors.append(FieldError(pointer: "/query/from", message: "must be a date, YYYY-MM-DD")) }
            if to != nil, t == nil { errors.append(FieldError(pointer: "/query/to", message: "must be a date, YYYY-MM-DD")) }
            if from == nil || to == nil {
                errors.append(FieldError(pointer: from == nil ? "/query/from" : "/query/to", message: "from and to go together"))
            } else if let f, let t {
                if let p = StatsPeriod.between(f, t) {
                    period = p
                } else {
                    errors.append(
                        FieldError(pointer: "/query/to", message: "must be on or after from, and within \(StatsPeriod.maximumDays) days of it"))
                }
            }
        }
        var filters = TeamFigures.Filters()
        if let d = text("division") {
            if Division(rawValue: d) == nil {
                errors.append(
                    FieldError(pointer: "/query/division", message: "must be one of: " + Division.allCases.map(\.rawValue).joined(separator: ", ")))
            } else {
                filters.division = d
            }
        }
        filters.department = text("department")
        if let k = text("kind") {
            if RequestKind(rawValue: k) == nil {
                errors.append(
                    FieldError(pointer: "/query/kind", message: "must be one of: " + RequestKind.allCases.map(\.rawValue).joined(separator: ", ")))
            } else {
                filters.kind = k
            }
        }
        if !errors.isEmpty { return .failure(.validation(errors)) }
        return .success(StatsQuery(period: period, filters: filters))
    }

    public static let parameters = ["period", "from", "to", "division", "department", "kind"]
}

/// The team's figures: one query layer for the performance page, `GET /api/v1/stats` and exports.
public struct StatsService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let sla: PreviewSLAHolder

    public init(db: PostgresClient, time: any TimeSource, logger: Logger, sla: PreviewSLAHolder) {
        self.db = db
        self.time = time
        self.logger = logger
        self.sla = sla
    }

    public var today: CivilDate { London.date(of: time.now()) }

    /// The days the stored ordinals cover; stretches outside them have no working-day count.
    static let ordinalSpan = (CivilDate(2000, 1, 1), CivilDate(2050, 12, 31))

    public func figures(_ q: StatsQuery, by who: Principal) async throws -> TeamFigures {
        try who.require(.readRequests)
        // `serve` puts its calendar in use at start-up; a database never prepared is prepared here.
        var version = try await StatsStore.calendarInUse(on: db, logger: logger)
        if version == nil {
            try await Self.prepareCalendar(sla.current.holidays, db: db, logger: logger)
            version = sla.current.holidays.version
        }
        let holidays = sla.current.holidays
        let now = time.now()
        var scope = StatsStore.Scope(
            from: London.instant(q.period.from), to: London.instant(q.period.to.adding(days: 1)), now: now,
            division: q.filters.division, department: q.filters.department, kind: q.filters.kind, calendarVersion: version ?? holidays.version)
        scope.monthKeys = q.period.months
        scope.monthStarts = q.period.monthStarts.map { London.instant($0) }
        async let promiseRows = StatsStore.promiseByMonth(scope, on: db, logger: logger)
        async let promiseNow = StatsStore.promiseNow(scope, on: db, logger: logger)
        async let stageRows = StatsStore.stageDistributions(scope, on: db, logger: logger)
        async let endToEndRows = StatsStore.endToEndDistribution(scope, on: db, logger: logger)
        async let shareRows = StatsStore.whereTimeGoes(scope, on: db, logger: logger)
        async let flowRows = StatsStore.flowByMonth(scope, on: db, logger: logger)
        async let openRows = StatsStore.openNow(scope, on: db, logger: logger)
        async let sentRows = StatsStore.remindersSent(scope, on: db, logger: logger)
        async let followRows = StatsStore.reminderFollowUp(scope, on: db, logger: logger)
        async let dataSetRows = StatsStore.dataSets(scope, on: db, logger: logger)

        let months = q.period.months
        let promiseByMonth = Dictionary(uniqueKeysWithValues: try await promiseRows.map { ($0.month, $0) })
        let promiseMonths = months.map { m in
            let r = promiseByMonth[m]
            return TeamFigures.PromiseMonth(
                month: m, kept: r?.kept ?? 0, broken: r?.broken ?? 0,
                keptShare: TeamFigures.share(r?.kept ?? 0, of: (r?.kept ?? 0) + (r?.broken ?? 0)))
        }
        let kept = promiseMonths.reduce(0) { $0 + $1.kept }
        let broken = promiseMonths.reduce(0) { $0 + $1.broken }
        let (breachedNow, atRiskNow) = try await promiseNow

        let distributions = try await stageRows
        func durations(_ d: StatsStore.Distribution?) -> (Int, TeamFigures.Summary, TeamFigures.Summary) {
            let working = d?.working ?? []
            let calendar = d?.calendar ?? []
            return (
                calendar.reduce(0) { $0 + $1.count },
                TeamFigures.Summary(
                    median: Self.round(Percentile.continuous(working, 0.5)), p90: Self.round(Percentile.continuous(working, 0.9))),
                TeamFigures.Summary(
                    median: Self.round(Percentile.continuous(calendar, 0.5)), p90: Self.round(Percentile.continuous(calendar, 0.9)))
            )
        }
        let stages = Stage.allCases.map { stage in
            let (n, w, c) = durations(distributions[stage.rawValue])
            return TeamFigures.StageDurations(stage: stage, title: stage.title, count: n, workingDays: w, calendarDays: c)
        }
        let (e2eCount, e2eWorking, e2eCalendar) = durations(try await endToEndRows)

        let shares = Dictionary(uniqueKeysWithValues: try await shareRows.map { ($0.stage, $0) })
        let totalSeconds = shares.values.reduce(0) { $0 + $1.seconds }
        let shareStages = Stage.allCases.map { stage in
            let r = shares[stage.rawValue]
            return TeamFigures.StageShare(
                stage: stage, title: stage.title, share: totalSeconds > 0 ? ((r?.seconds ?? 0) / totalSeconds * 1000).rounded() / 1000 : 0,
                totalWorkingDays: r?.workingDays ?? 0, totalCalendarDays: Self.round((r?.seconds ?? 0) / 86_400) ?? 0)
        }
        let wentLive = shares.values.map(\.requests).max() ?? 0
        let signOff = shares[Stage.signOff.rawValue]?.seconds ?? 0
        let build = shares[Stage.build.rawValue]?.seconds ?? 0

        let flow = Dictionary(uniqueKeysWithValues: try await flowRows.map { ($0.month, $0) })
        let flowMonths = months.map {
            TeamFigures.FlowMonth(month: $0, created: flow[$0]?.created ?? 0, withdrawn: flow[$0]?.withdrawn ?? 0, wentLive: flow[$0]?.wentLive ?? 0)
        }
        let open = Dictionary(uniqueKeysWithValues: try await openRows.map { ($0.state, $0) })
        let openStates = RequestState.allCases.filter { ![.live, .productAudit, .withdrawn].contains($0) }.map { s in
            TeamFigures.OpenState(
                state: s, count: open[s.rawValue]?.count ?? 0, medianAgeDays: Self.round(open[s.rawValue]?.medianAgeDays),
                oldestAgeDays: Self.round(open[s.rawValue]?.oldestAgeDays))
        }

        let reminderMonths = try await sentRows.map { TeamFigures.ReminderMonth(month: $0.month, kind: $0.kind, sent: $0.sent) }
        let followUps = try await followRows.map {
            TeamFigures.ReminderFollowUp(
                kind: $0.kind, reminders: $0.owed, followedWithinTwoWorkingDays: $0.followed, share: TeamFigures.share($0.followed, of: $0.owed))
        }

        let uploads = try await dataSetRows.compactMap { d -> TeamFigures.DataSetUploads? in
            guard let cadence = Cadence(rawValue: d.cadence) else { return nil }
            let calendar = WorkingCalendar(holidays: holidays, division: Division(rawValue: d.division) ?? .englandAndWales)
            var received: [CivilDate: CivilDate] = [:]
            for r in d.received {
                received[CivilDate(daysSinceEpoch: Int((r.periodStart.timeIntervalSince1970 / 86_400).rounded()))] = London.date(of: r.at)
            }
            let tally = UploadPunctuality.tally(
                schedule: UploadSchedule(cadence: cadence, dueWorkingDaysAfterPeriod: d.dueWorkingDays), createdOn: London.date(of: d.createdAt),
                received: received, span: q.period, today: London.date(of: now), calendar: calendar)
            return TeamFigures.DataSetUploads(
                dataSetID: d.id.lowercasedString, requestID: d.requestID.lowercasedString, reference: d.reference, name: d.name, cadence: cadence,
                onTime: tally.onTime, late: tally.late, lateWorkingDays: tally.lateWorkingDays, missing: tally.missing)
        }

        return TeamFigures(
            period: .init(
                from: q.period.from.description, to: q.period.to.description, label: q.period.label, months: months,
                calendarVersion: version ?? holidays.version),
            filters: q.filters,
            promise: .init(
                months: promiseMonths, kept: kept, broken: broken, keptShare: TeamFigures.share(kept, of: kept + broken), breachedNow: breachedNow,
                atRiskNow: atRiskNow),
            stages: stages, endToEnd: .init(count: e2eCount, workingDays: e2eWorking, calendarDays: e2eCalendar),
            whereTimeGoes: .init(requests: wentLive, stages: shareStages, signOffLongerThanBuilding: wentLive == 0 ? nil : signOff > build),
            flow: .init(months: flowMonths, open: openStates),
            reminders: .init(months: reminderMonths, kinds: followUps),
            uploads: uploads)
    }

    /// Puts a calendar in use for the figures: its working-day ordinals are written the first time,
    /// and every stretch's working days counted again when it is new to them (seconds for 100,000
    /// requests). `serve` calls it at start-up, before it takes requests, so figures never wait for
    /// it and instances of different versions do not take turns recounting.
    public static func prepareCalendar(_ holidays: BankHolidays, db: PostgresClient, logger: Logger) async throws {
        if try await StatsStore.calendarInUse(on: db, logger: logger) == holidays.version { return }
        if try await !StatsStore.hasOrdinals(version: holidays.version, on: db, logger: logger) {
            let (first, last) = Self.ordinalSpan
            try await db.transaction(logger: logger) { conn in
                for division in Division.allCases {
                    let calendar = WorkingCalendar(holidays: holidays, division: division)
                    var days: [Date] = []
                    var ordinals: [Int32] = []
                    var n: Int32 = 0
                    var d = first
                    while d <= last {
                        if calendar.isWorkingDay(d) { n += 1 }
                        days.append(Date(timeIntervalSince1970: Double(d.daysSinceEpoch) * 86_400))
                        ordinals.append(n)
                        d = d.adding(days: 1)
                    }
                    try await StatsStore.saveOrdinals(
                        version: holidays.version, division: division.rawValue, days: days, ordinals: ordinals, on: conn, logger: logger)
                }
            }
            // Fresh statistics, or the planner takes the new rows for a handful and loops over them.
            try await StatsStore.analyzeOrdinals(on: db, logger: logger)
        }
        let counted = try await StatsStore.useCalendar(holidays.version, on: db, logger: logger)
        if counted > 0 { try await StatsStore.vacuumIntervals(on: db, logger: logger) }
        logger.info("working days counted for the team's figures", metadata: ["calendar": "\(holidays.version)", "stretches": "\(counted)"])
    }

    /// One decimal place: the figures are days, and a tenth of a day is as exact as they mean.
    static func round(_ v: Double?) -> Double? { v.map { ($0 * 10).rounded() / 10 } }
}
