import CallboardDomain
import CallboardServices
import Foundation
import Hummingbird

/// `/staff/performance`: the team's figures, each chart followed by its numbers as a table, with
/// the filters as a GET form. The same `StatsService` answers `GET /api/v1/stats`.
extension StaffPages {
    func registerPerformance(_ r: PageRoutes) {
        r.on(.get, "/staff/performance") { request, _ in
            try await signedIn(request) { who, csrf in try await performancePage(request, who, csrf) }
        }
    }

    private func performancePage(_ request: Request, _ who: Principal, _ csrf: String) async throws -> Response {
        let q = FormQuery(request.uri)
        var context = base(who, csrf, title: "Performance of the team")
        let fields = StatsQuery.parameters.reduce(into: [String: String]()) { $0[$1] = Self.text(q.get($1)) }
        for (k, v) in fields { context[k] = v }
        context["divisions"] = Division.allCases.map {
            ["value": $0.rawValue, "text": $0.title, "selected": fields["division"] == $0.rawValue] as [String: Any]
        }
        context["kinds"] = RequestKind.allCases.map {
            ["value": $0.rawValue, "text": Self.words($0.rawValue).capitalizedFirst, "selected": fields["kind"] == $0.rawValue] as [String: Any]
        }
        let query: StatsQuery
        switch StatsQuery.parse({ fields[$0].flatMap { $0.isEmpty ? nil : $0 } }, today: stats.today) {
        case .success(let parsed): query = parsed
        case .failure(let e):
            let errors = Self.problemFields(e)
            context.merge(Self.summary(errors)) { $1 }
            for e in errors { context["\(e.field)_error"] = e.message }
            return pages.page("staff_performance", context, status: .unprocessableContent)
        }
        let figures = try await stats.figures(query, by: who)
        context["figures"] = Self.performanceContext(figures)
        let exportQuery = [("from", figures.period.from), ("to", figures.period.to)].map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        context["events_csv"] = "/staff/export/events.csv?" + exportQuery
        return pages.page("staff_performance", context)
    }

    /// Field errors keyed by the form's field ids (the query parameter names).
    static func problemFields(_ e: ServiceError) -> [(field: String, message: String)] {
        guard case .validation(let errors) = e else { return summary(e) }
        return errors.map { (String($0.pointer.split(separator: "/").last ?? "period"), $0.message.capitalizedFirst) }
    }

    static func performanceContext(_ f: TeamFigures) -> [String: Any] {
        let months = f.period.months.map(StatsPeriod.shortMonth)
        func days(_ v: Double?) -> String { v.map(SVGChart.number) ?? "–" }
        func percent(_ v: Double?) -> String { v.map { "\(Int(($0 * 100).rounded()))%" } ?? "–" }
        let stageClasses = ["chart-s1", "chart-s2", "chart-s3", "chart-s4", "chart-s5", "chart-s6"]
        var out: [String: Any] = ["label": f.period.label, "calendar_version": f.period.calendarVersion]

        // Does sign-off take longer than building?
        let share = Dictionary(uniqueKeysWithValues: f.whereTimeGoes.stages.map { ($0.stage, $0) })
        if let longer = f.whereTimeGoes.signOffLongerThanBuilding, let s = share[.signOff], let b = share[.build] {
            out["answer"] =
                "For the \(f.whereTimeGoes.requests) \(f.whereTimeGoes.requests == 1 ? "request" : "requests") that went live in this period, "
                + "sign-off took \(percent(s.share)) of the elapsed time (\(s.totalWorkingDays) working days in all) and building took "
                + "\(percent(b.share)) (\(b.totalWorkingDays) working days): sign-off took \(longer ? "longer" : "less time") than building."
        }

        out["promise_kept"] = percent(f.promise.keptShare)
        out["promise_counts"] = "\(f.promise.kept) kept, \(f.promise.broken) broken"
        out["breached_now"] = f.promise.breachedNow
        out["at_risk_now"] = f.promise.atRiskNow
        out["promise_chart"] = SVGChart.bars(
            id: "promise-chart", title: "Share of preview promises kept, by the month they fell due", labels: months,
            series: [.init(name: "Kept", cssClass: "chart-s1", values: f.promise.months.map { $0.keptShare ?? 0 })], percent: true)
        out["promise_rows"] = zip(months, f.promise.months).map { m, p in
            ["month": m, "kept": p.kept, "broken": p.broken, "share": percent(p.keptShare)] as [String: Any]
        }

        let stageRows =
            f.stages.map { s in (s.title, s.count, s.workingDays, s.calendarDays) } + [
                ("End to end: requested to live", f.endToEnd.count, f.endToEnd.workingDays, f.endToEnd.calendarDays)
            ]
        out["stages_chart"] = SVGChart.ranges(
            id: "stages-chart", title: "Working days per stage: median (dot) and 90th percentile (end of line)",
            rows: f.stages.map { ($0.stage.shortTitle, $0.workingDays.median, $0.workingDays.p90) }, unit: "Working days")
        out["stage_rows"] = stageRows.map { title, count, w, c in
            [
                "stage": title, "count": count, "wd_median": days(w.median), "wd_p90": days(w.p90), "cd_median": days(c.median),
                "cd_p90": days(c.p90),
            ] as [String: Any]
        }

        out["went_live"] = f.whereTimeGoes.requests
        out["share_chart"] = SVGChart.stacked(
            id: "share-chart", title: "Where the time goes: each stage's share of elapsed time, requests that went live",
            parts: f.whereTimeGoes.stages.enumerated().map { ($1.stage.shortTitle, $1.share, stageClasses[$0]) })
        out["share_rows"] = f.whereTimeGoes.stages.map {
            ["stage": $0.title, "share": percent($0.share), "working": $0.totalWorkingDays, "calendar": SVGChart.number($0.totalCalendarDays)]
                as [String: Any]
        }

        out["flow_chart"] = SVGChart.bars(
            id: "flow-chart", title: "Requests created, withdrawn and gone live, by month", labels: months,
            series: [
                .init(name: "Created", cssClass: "chart-s1", values: f.flow.months.map { Double($0.created) }),
                .init(name: "Withdrawn", cssClass: "chart-s4", values: f.flow.months.map { Double($0.withdrawn) }),
                .init(name: "Gone live", cssClass: "chart-s3", values: f.flow.months.map { Double($0.wentLive) }),
            ])
        out["flow_rows"] = zip(months, f.flow.months).map { m, r in
            ["month": m, "created": r.created, "withdrawn": r.withdrawn, "live": r.wentLive] as [String: Any]
        }
        out["open_rows"] = f.flow.open.map {
            ["state": $0.state.title, "count": $0.count, "median": days($0.medianAgeDays), "oldest": days($0.oldestAgeDays)] as [String: Any]
        }

        out["reminder_rows"] = f.reminders.kinds.map {
            ["kind": words($0.kind).capitalizedFirst, "owed": $0.reminders, "followed": $0.followedWithinTwoWorkingDays, "share": percent($0.share)]
                as [String: Any]
        }
        out["reminder_sent_rows"] = f.reminders.months.map {
            ["month": StatsPeriod.shortMonth($0.month), "kind": words($0.kind).capitalizedFirst, "sent": $0.sent] as [String: Any]
        }
        out["upload_rows"] = f.uploads.map { u in
            [
                "reference": u.reference, "request_id": u.requestID, "data_set_id": u.dataSetID, "name": u.name, "cadence": u.cadence.rawValue,
                "on_time": u.onTime, "late": u.late,
                "late_days": u.lateWorkingDays.isEmpty ? "–" : u.lateWorkingDays.map(String.init).joined(separator: ", "), "missing": u.missing,
            ] as [String: Any]
        }
        return out
    }
}
