import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// Every change to a dashboard request goes through here: one transaction per command,
/// the version compare-and-set, the history event, and the automatic firing of
/// `complete_information` when the last required item arrives.
public struct RequestService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let outbox: EmailOutbox
    let slaHolder: PreviewSLAHolder
    let stages: StageDurations
    var sla: PreviewSLASettings { slaHolder.current }
    /// Draws a new request's reference; a test gives its own to take the path of one already taken.
    public var drawReference: @Sendable () -> String = { RequestReference.random() }

    public init(
        db: PostgresClient, time: any TimeSource, logger: Logger, outbox: EmailOutbox, sla: PreviewSLAHolder,
        stages: StageDurations = StageDurations()
    ) {
        self.stages = stages
        self.db = db
        self.time = time
        self.logger = logger
        self.outbox = outbox
        self.slaHolder = sla
    }

    /// The request's preview promise as of now, with the calendar's explanation; nil before it starts.
    public func previewSLA(_ r: RequestRecord) -> (PreviewSLA, PreviewSLA.Status)? {
        guard let stored = r.sla else { return nil }
        let view = sla.view(stored, division: r.division)
        return (view, view.status(at: time.now(), calendar: sla.calendar(for: r.division)))
    }

    public var now: Date { time.now() }

    public func get(_ id: UUID, by who: Principal) async throws -> RequestRecord {
        try who.require(.readRequests)
        guard let r = try await RequestStore.fetch(id, on: db, logger: logger) else { throw ServiceError.notFound("request") }
        return r
    }

    public func list(_ filter: RequestFilter, cursor: ListCursor?, limit: Int, by who: Principal) async throws
        -> (records: [RequestSummary], next: ListCursor?)
    {
        try who.require(.readRequests)
        var filter = filter
        filter.now = time.now()
        return try await RequestStore.list(filter, after: cursor, limit: limit, on: db, logger: logger)
    }

    /// How many requests are in each state (the triage board's counts).
    public func countByState(by who: Principal) async throws -> [RequestState: Int] {
        try who.require(.readRequests)
        return try await RequestStore.countByState(on: db, logger: logger)
    }

    public func create(_ body: JSONValue, by who: Principal) async throws -> RequestRecord {
        try who.require(.createRequest)
        let input = try RequestInput.parse(body, creating: true)
        let assignee = try await resolveAssignee(input.assigneeEmail)
        let spans = StageSpans()
        // No transaction: the create is one statement (each draw of a reference its own).
        let record = try await db.withConnection { conn in
            try await create(input, assignee: assignee, by: who, on: conn, spans: spans)
        }
        spans.record(to: stages)
        return record
    }

    /// Stores a new request from checked input, in the caller's transaction if it has one (the
    /// front door's): the API's and the front door's one way in. `created` records `extra` beside
    /// the fields (the front door's application).
    func create(
        _ input: RequestInput, assignee: StaffRecord?, by who: Principal, extra: [String: JSONValue] = [:], on conn: PostgresConnection,
        spans: StageSpans? = nil
    ) async throws -> RequestRecord {
        let now = time.now()
        let created = RequestRecord(
            id: UUID(), kind: input.kind!, state: .requested, version: 1, department: input.department!,
            division: (input.division ?? .englandAndWales).rawValue, assigneeID: assignee?.id, assigneeEmail: assignee?.email,
            checklist: Checklist(input.items), optionalModules: input.optionalModules ?? [], notes: input.notes ?? "",
            createdAt: now, updatedAt: now)
        var data = extra
        data["fields"] = RequestDiff.describe(created)
        // One statement writes the request as it ends up: complete on arrival, it is stored already
        // moved on by complete_information (actor `system`), with both events; otherwise its service
        // contact is asked for what is missing. A reference already taken (rare: 30^8 of them) is drawn again.
        for _ in 0..<Self.referenceDraws {
            var record = created
            record.reference = drawReference()
            var write = RequestWrite(events: [event(record, "created", by: who, data: .object(data))], webhooks: [WebhookEvents.created(record)])
            var completed: (TransitionPlan, (state: RequestState, approved: Bool, enteredAt: Date))?
            if record.checklist.isComplete(for: record.kind) {
                let left = (state: record.state, approved: false, enteredAt: record.stateEnteredAt)
                let (plan, firing) = try planFiring(try Self.permit(.completeInformation, by: .system), .init(), on: &record, by: .system)
                // A new request has no reminders to settle.
                write.events += firing.events
                write.emails += firing.emails
                write.links += firing.links
                write.webhooks += firing.webhooks
                completed = (plan, left)
            } else if let link = outbox.contactLink(record, at: now) {
                var context = outbox.baseContext(record)
                context["link"] = outbox.url(link)
                write.links.append(link)
                write.emails.append(
                    outbox.draft(
                        .informationRequest, to: link.record.email, requestID: record.id, context: context,
                        dedupKey: "\(record.id.lowercasedString):information_request", runAt: now))
            }
            guard try await RequestStore.insert(record, write, at: record.updatedAt, on: conn, logger: logger) else { continue }
            if let spans, let (plan, left) = completed, let span = try await endedSpan(plan, left: left, requestID: record.id, on: conn) {
                spans.add(span)
            }
            return record
        }
        throw ServiceError.conflict("no free reference was found; try again")
    }

    /// How many references a create draws before giving up (each taken with odds of at most 1 in 6 million at 100,000 requests).
    static let referenceDraws = 8

    public func update(_ id: UUID, _ body: JSONValue, expectedVersion: Int, by who: Principal) async throws -> RequestRecord {
        if !Permissions.allows(who.actor, .updateRequest) { try who.require(.supplyItems) }
        let input = try RequestInput.parse(body, creating: false)
        let touchesOnlyItems =
            input.items.count > 0 && input.kind == nil && input.department == nil && input.division == nil
            && input.assigneeEmail == nil && input.notes == nil && input.optionalModules == nil
        try who.require(touchesOnlyItems ? .supplyItems : .updateRequest)
        let assignee = try await resolveAssignee(input.assigneeEmail)
        let spans = StageSpans()
        let updated = try await db.transaction(logger: logger) { conn in
            var record = try await load(id, expectedVersion: expectedVersion, on: conn)
            guard !record.state.isFinal else { throw ServiceError.conflict("the request is \(record.state.rawValue) and can no longer be changed") }
            let before = record
            if let k = input.kind { record.kind = k }
            if let d = input.department { record.department = d }
            if let d = input.division { record.division = d.rawValue }
            if let a = input.assigneeEmail {
                record.assigneeID = a == nil ? nil : assignee?.id
                record.assigneeEmail = a == nil ? nil : assignee?.email
            }
            if let n = input.notes { record.notes = n }
            if let m = input.optionalModules { record.optionalModules = m }
            for (name, item) in input.items { record.checklist[name] = item }
            // Once information is complete, a required item can only be taken back by reopening it.
            if record.state != .requested, !record.checklist.isComplete(for: record.kind) {
                let lost = record.checklist.unsettledRequiredItems(for: record.kind)
                throw ServiceError.validation(
                    lost.map {
                        FieldError(
                            pointer: "/items/\($0.rawValue)", message: "is required once information is complete; fire reopen_information first")
                    })
            }
            // A running promise counts the working days of the request's division: moving division re-dates it.
            if record.division != before.division, let s = record.sla, s.metAt == nil {
                let promise = PreviewSLA.start(at: s.startedAt, workingDays: sla.workingDays, calendar: sla.calendar(for: record.division))
                record.sla = StoredSLA(
                    startedAt: s.startedAt, dueAt: promise.dueAt, atRiskAt: promise.atRiskAt, metAt: nil,
                    calendarVersion: promise.calendarVersion)
            }
            let diff = RequestDiff.between(before, record)
            guard !diff.isEmpty else { return before }  // nothing changed: no new version, no event
            let approvalLost = try Self.checkApprovalStillCovers(before: before, after: record)
            if approvalLost { record.signOffDecision = nil }
            record.version += 1
            record.updatedAt = time.now()
            // Supplying items settles the missing-information chase (its queued reminder would be out of date).
            var settling = ReminderRules.settled(
                from: before.state, to: record.state, itemsChanged: before.checklist != record.checklist,
                slaChanged: before.sla != record.sla)
            // A new sign-off owner: what is queued for the old one (with their link) is not sent.
            if record.state == .signoffPending, before.checklist.signOffEmail != record.checklist.signOffEmail, !settling.contains(.signOff) {
                settling.append(.signOff)
            }
            // The owner is asked again, with a link that shows what changed since they approved.
            var emails: [NewEmail] = []
            var links: [NewLink] = []
            var data: [String: JSONValue] = ["changes": .object(diff)]
            if approvalLost, var link = outbox.signOffLink(record, calendar: sla.calendar(for: record.division), at: record.updatedAt) {
                link.record.requestVersion = before.version
                var context = outbox.baseContext(record)
                context["link"] = outbox.url(link)
                context["changed_since_approval"] = true
                links.append(link)
                emails.append(
                    outbox.draft(
                        .signOffRequest, to: link.record.email, requestID: record.id, context: context,
                        dedupKey: "\(record.id.lowercasedString):v\(record.version):sign_off_request:approval_lost", runAt: record.updatedAt))
                data["sign_off_approval_withdrawn"] = .bool(true)
            }
            guard
                try await RequestStore.update(
                    record,
                    RequestWrite(
                        events: [event(record, "updated", by: who, data: .object(data))], emails: emails, links: links, settling: settling,
                        webhooks: [WebhookEvents.updated(record, fields: Array(diff.keys))]),
                    at: record.updatedAt, on: conn, logger: logger)
            else { throw await staleError(id, on: conn) }
            try await completeIfReady(&record, on: conn, spans: spans)
            return record
        }
        spans.record(to: stages)
        return updated
    }

    public func transition(_ id: UUID, _ name: TransitionName, _ body: JSONValue?, expectedVersion: Int, by who: Principal) async throws
        -> RequestRecord
    {
        try await transitionPlanned(id, name, body, expectedVersion: expectedVersion, by: who).record
    }

    /// Fires a transition and returns the request with the plan it executed (the response is built from it).
    public func transitionPlanned(_ id: UUID, _ name: TransitionName, _ body: JSONValue?, expectedVersion: Int, by who: Principal) async throws
        -> (record: RequestRecord, plan: TransitionPlan)
    {
        let permit = try Self.permit(name, by: who)
        let arguments: TransitionArguments
        do { arguments = try TransitionArguments.parse(body, for: Lifecycle.definition(name)) } catch { throw ServiceError.validation(error.errors) }
        // The row is locked before the write: a scheduler batch holding it (queuing a reminder this
        // change may settle) finishes first, so the write's settling sees that reminder.
        let spans = StageSpans()
        let result = try await db.transaction(logger: logger) { conn in
            var record = try await load(id, expectedVersion: expectedVersion, on: conn)
            let plan = try await fire(permit, arguments, on: &record, by: who, conn: conn, spans: spans)
            return (record, plan)
        }
        spans.record(to: stages)
        return result
    }

    public func comment(_ id: UUID, _ body: JSONValue, by who: Principal) async throws -> EventRecord {
        try who.require(.comment)
        var errors = ErrorCollector()
        var text: String?
        if var r = ObjectReader(body, at: "", errors: &errors) {
            text = r.string("text", required: true, maxLength: 5000)
            errors.add(contentsOf: r.finish())
        }
        try errors.throwIfAny()
        return try await db.transaction(logger: logger) { conn in
            guard let record = try await RequestStore.fetch(id, on: conn, logger: logger) else {
                throw ServiceError.notFound("request")
            }
            let event = EventRecord(
                requestID: id, version: record.version, kind: "comment", actorKind: who.actor,
                actorID: who.actorID, occurredAt: time.now(), data: .object(["text": .string(text!)]))
            try await EventStore.append(event, on: conn, logger: logger)
            return event
        }
    }

    public func events(_ id: UUID, afterID: Int64, limit: Int, by who: Principal) async throws -> (events: [EventRecord], next: Int64?) {
        _ = try await get(id, by: who)
        return try await EventStore.list(requestID: id, afterID: afterID, limit: limit, on: db, logger: logger)
    }

    /// The newest `limit` events of a request the caller has already read (`get`), before the
    /// `beforeID` cursor when given; `older` is the cursor for the page before them.
    public func newestEvents(of r: RequestRecord, beforeID: Int64?, limit: Int, by who: Principal) async throws
        -> (events: [EventRecord], older: Int64?)
    {
        try who.require(.readRequests)
        return try await EventStore.newest(requestID: r.id, beforeID: beforeID, limit: limit, on: db, logger: logger)
    }

    // MARK: - Inside the transaction

    /// Reads and locks the request (inside the caller's transaction) and checks the caller saw the current version.
    private func load(_ id: UUID, expectedVersion: Int, on conn: PostgresConnection) async throws -> RequestRecord {
        guard let record = try await RequestStore.fetch(id, lock: true, on: conn, logger: logger) else { throw ServiceError.notFound("request") }
        guard record.version == expectedVersion else { throw ServiceError.stale(current: record.version) }
        return record
    }

    /// Read on the transaction's own connection: asking the pool for a second one while holding the
    /// first could starve it when many callers race for the same request.
    private func staleError(_ id: UUID, on conn: PostgresConnection) async -> ServiceError {
        let current = (try? await RequestStore.fetch(id, on: conn, logger: logger))?.version ?? 0
        return .stale(current: current)
    }

    /// The one permission check of a firing (the engine's), before anything is read.
    private static func permit(_ name: TransitionName, by who: Principal) throws -> TransitionPermit {
        switch TransitionEngine.permit(name, by: who.actor) {
        case .success(let p): return p
        case .failure(let refusal): throw ServiceError.refused(refusal)
        }
    }

    /// Plans with the domain engine and executes the plan: the new version (compare-and-set), its
    /// event, emails, links and settled reminders in one statement.
    @discardableResult
    private func fire(
        _ permit: TransitionPermit, _ arguments: TransitionArguments, on record: inout RequestRecord, by who: Principal,
        conn: PostgresConnection, spans: StageSpans? = nil
    ) async throws -> TransitionPlan {
        let left = (state: record.state, approved: record.signOffDecision == .approved, enteredAt: record.stateEnteredAt)
        let (plan, write) = try planFiring(permit, arguments, on: &record, by: who)
        guard try await RequestStore.update(record, write, at: plan.at, on: conn, logger: logger) else {
            throw await staleError(record.id, on: conn)
        }
        if let spans, let span = try await endedSpan(plan, left: left, requestID: record.id, on: conn) { spans.add(span) }
        return plan
    }

    /// A firing planned on `record`, which is moved on to its new version, and what storing it
    /// writes: its event, emails, links, settled reminders and webhook event. Nothing is stored yet.
    private func planFiring(
        _ permit: TransitionPermit, _ arguments: TransitionArguments, on record: inout RequestRecord, by who: Principal
    ) throws -> (TransitionPlan, RequestWrite) {
        let calendar = sla.calendar(for: record.division)
        let context = TransitionContext(
            now: time.now(), calendar: calendar, previewWorkingDays: sla.workingDays, holdsPreviewPromise: record.sla != nil)
        let plan: TransitionPlan
        switch TransitionEngine.plan(permit, on: record.snapshot, arguments: arguments, context: context) {
        case .success(let p): plan = p
        case .failure(let refusal): throw ServiceError.refused(refusal)
        }
        let now = plan.at
        record.snapshot = plan.after
        if let t = plan.stateEnteredAt { record.stateEnteredAt = t }
        if let t = plan.infoCompleteAt { record.infoCompleteAt = t }
        if let o = plan.auditOutcome { record.auditOutcome = o }
        if let change = plan.previewPromise { record.sla = Self.stored(change, record.sla) }
        record.version += 1
        record.updatedAt = now
        // The sign-off owner (to decide) and the service contact (to give information) get links of their own.
        let pageLinks = outbox.pageLinks(for: plan.emailKind, record, calendar: calendar, at: now)
        let write = RequestWrite(
            events: [event(record, "transitioned", by: who, data: plan.event)],
            emails: outbox.drafts(for: plan, record: record, links: pageLinks.mapValues(outbox.url), at: now),
            links: Array(pageLinks.values), settling: plan.settles,
            webhooks: [WebhookEvents.transitioned(record, plan.definition.name, from: plan.from)])
        return (plan, write)
    }

    /// The stage a firing ended, if any: a change of state ends the stage of the state left; an
    /// approval ends `sign_off` (the request stays in signoff_pending, now building). Each is timed
    /// from `state_entered_at`, except `build`, which starts at the approval: the latest
    /// approve_sign_off event's time (one row, by the request's index); none found, nothing is recorded.
    private func endedSpan(
        _ plan: TransitionPlan, left: (state: RequestState, approved: Bool, enteredAt: Date), requestID: UUID, on conn: PostgresConnection
    ) async throws -> StageSpan? {
        guard plan.from != plan.to || plan.definition.name == .approveSignOff,
            let stage = Stage.of(left.state, approved: left.approved && plan.definition.name != .approveSignOff)
        else { return nil }
        var start = left.enteredAt
        if stage == .build {
            guard let approved = try await EventStore.latestApproval(requestID: requestID, on: conn, logger: logger) else { return nil }
            start = approved
        }
        return StageSpan(stage: stage, seconds: plan.at.timeIntervalSince(start))
    }

    /// The stored promise after a planned change.
    private static func stored(_ change: PreviewPromiseChange, _ current: StoredSLA?) -> StoredSLA? {
        switch change {
        case .start(let p):
            return StoredSLA(startedAt: p.startedAt, dueAt: p.dueAt, atRiskAt: p.atRiskAt, metAt: nil, calendarVersion: p.calendarVersion)
        case .clear: return nil
        case .meet(let at):
            var s = current
            s?.metAt = at
            return s
        }
    }

    /// What the sign-off owner saw (the items, the kind of service, the department) decides what may
    /// change after they approve: while the request waits to be built, a change withdraws the
    /// approval (true: the owner is asked again); from `built` on nothing leads back to sign-off, so
    /// such a change is refused. Staff-only fields (assignee, notes, division, modules) stay free.
    static func checkApprovalStillCovers(before: RequestRecord, after: RequestRecord) throws -> Bool {
        let ownerSaw = before.checklist != after.checklist || before.kind != after.kind || before.department != after.department
        guard ownerSaw else { return false }
        switch before.state {
        case .built, .previewPublished, .live, .productAudit:
            throw ServiceError.conflict(
                "the dashboard was built from what the sign-off owner approved; its items, kind and department can no longer change")
        case .signoffPending:
            return before.signOffDecision == .approved
        default:
            return false
        }
    }

    /// The scheduler starts a due product audit as `system`, inside its own transaction.
    func startProductAudit(_ record: inout RequestRecord, on conn: PostgresConnection) async throws {
        try await fire(try Self.permit(.startProductAudit, by: .system), .init(), on: &record, by: .system, conn: conn)
    }

    /// `complete_information` fires by itself (actor `system`) once every required item is settled.
    private func completeIfReady(_ record: inout RequestRecord, on conn: PostgresConnection, spans: StageSpans? = nil) async throws {
        guard record.state == .requested, record.checklist.isComplete(for: record.kind) else { return }
        try await fire(try Self.permit(.completeInformation, by: .system), .init(), on: &record, by: .system, conn: conn, spans: spans)
    }

    private func event(_ r: RequestRecord, _ kind: String, by who: Principal, data: JSONValue) -> EventRecord {
        EventRecord(requestID: r.id, version: r.version, kind: kind, actorKind: who.actor, actorID: who.actorID, occurredAt: r.updatedAt, data: data)
    }

    private func resolveAssignee(_ email: String??) async throws -> StaffRecord? {
        guard case .some(.some(let e)) = email else { return nil }
        guard let staff = try await StaffStore.find(email: e, on: db, logger: logger), staff.disabledAt == nil else {
            throw ServiceError.validation([FieldError(pointer: "/assignee", message: "is not an active staff member")])
        }
        return staff
    }
}
