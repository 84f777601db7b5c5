import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import Hummingbird

/// Builds the API's JSON bodies. Field names are written out here, snake_case, exactly as documented.
enum JSONOutput {
    static func encode(_ value: JSONValue) -> [UInt8] { value.serialized() }

    static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        response(bytes: encode(value), status: status, headers: headers)
    }

    static func response(bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func date(_ d: Date?) -> JSONValue {
        d.map { .string(Timestamp.rfc3339($0)) } ?? .null
    }

    static func string(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }

    static func guardJSON(_ g: UnmetGuard) -> JSONValue {
        var o: [String: JSONValue] = ["code": .string(g.code.rawValue), "message": .string(g.message)]
        if let items = g.items { o["items"] = .array(items.map { .string($0.rawValue) }) }
        return .object(o)
    }

    /// The preview promise: when due and why then, how many working days are left, and the verdict.
    static func sla(_ promise: (PreviewSLA, PreviewSLA.Status)?) -> JSONValue {
        guard let (sla, status) = promise else { return .null }
        return .object([
            "started_at": date(sla.startedAt),
            "due_date": .string(sla.dueDate.description),
            "due_at": date(sla.dueAt),
            "working_days_remaining": .number(Double(status.workingDaysRemaining)),
            "at_risk": .bool(status.atRisk),
            "breached": .bool(status.breached),
            "met_at": date(sla.metAt),
            "uncertain": .bool(sla.uncertain),
            "calendar_version": .string(sla.calendarVersion),
            "excluded_days": .array(sla.excluded.map { .object(["date": .string($0.date.description), "reason": .string($0.reason)]) }),
        ])
    }

    /// `next`: the transitions the caller may fire, when a plan already says (a fired transition's
    /// response); otherwise the engine is asked.
    static func request(_ r: RequestRecord, for who: Principal, sla: JSONValue, next: [TransitionOption]? = nil) -> [UInt8] {
        // Written straight into bytes, keys in sorted order (as the list is): every create,
        // transition and read answers with this, and building a tree first was a tenth of a create.
        func date(_ d: Date?) -> String? { d.map(Timestamp.rfc3339) }
        var w = JSONStreamWriter(capacity: 4096)
        w.beginObject()
        w.key("assignee")
        w.string(r.assigneeEmail)
        w.key("audit_outcome")
        w.string(r.auditOutcome?.rawValue)
        w.key("created_at")
        w.string(date(r.createdAt))
        w.key("department")
        w.string(r.department)
        w.key("division")
        w.string(r.division)
        w.key("etag")
        w.string(ETag.make(r.version))
        w.key("id")
        w.string(r.id.lowercasedString)
        w.key("info_complete_at")
        w.string(date(r.infoCompleteAt))
        w.key("items")
        w.beginObject()
        for name in Self.itemsInKeyOrder {
            let item = r.checklist[name]
            w.key(name.rawValue)
            w.beginObject()
            w.key("reason")
            w.string(item.reason)
            w.key("required")
            w.bool(r.kind.requiredItems.contains(name))
            w.key("status")
            w.string(item.status.rawValue)
            w.key("value")
            w.value(item.value ?? .null)
            w.endObject()
        }
        w.endObject()
        w.key("kind")
        w.string(r.kind.rawValue)
        w.key("live_url")
        w.string(r.liveURL)
        w.key("missing_items")
        w.beginArray()
        for name in r.checklist.unsettledRequiredItems(for: r.kind) { w.string(name.rawValue) }
        w.endArray()
        w.key("notes")
        w.string(r.notes)
        w.key("optional_modules")
        w.beginArray()
        for module in r.optionalModules { w.string(module.rawValue) }
        w.endArray()
        w.key("preview_url")
        w.string(r.previewURL)
        w.key("reference")
        w.string(r.reference)
        w.key("service_name")
        w.string(r.checklist.serviceName)
        w.key("sign_off_decision")
        w.string(r.signOffDecision?.rawValue)
        w.key("sla")
        w.value(sla)
        w.key("state")
        w.string(r.state.rawValue)
        w.key("transitions")
        w.beginArray()
        for option in next ?? TransitionEngine.nextOptions(on: r.snapshot, by: who.actor) {
            w.beginObject()
            w.key("inputs")
            w.beginArray()
            for input in option.definition.inputs { w.string(input.rawValue) }
            w.endArray()
            w.key("name")
            w.string(option.definition.name.rawValue)
            w.key("ready")
            w.bool(option.ready)
            w.key("to")
            w.string(option.definition.to.rawValue)
            w.key("unmet_guards")
            w.value(.array(option.unmet.map(guardJSON)))
            w.endObject()
        }
        w.endArray()
        w.key("updated_at")
        w.string(date(r.updatedAt))
        w.key("version")
        w.int(r.version)
        w.endObject()
        return w.bytes
    }

    /// The items as a JSON object's keys sort.
    static let itemsInKeyOrder = ItemName.allCases.sorted { $0.rawValue < $1.rawValue }

    /// A page of the triage list: `{"items": [summary, …], "next_cursor": …}`, written directly.
    static func listPage(_ records: [RequestSummary], next: String?, now: Date) -> [UInt8] {
        var w = JSONStreamWriter(capacity: 256 + records.count * 640)
        w.beginObject()
        w.key("items")
        w.beginArray()
        for r in records { summary(r, now: now, into: &w) }
        w.endArray()
        w.key("next_cursor")
        w.string(next)
        w.endObject()
        return w.bytes
    }

    /// A list entry: enough to triage, no item values; GET the request for everything.
    /// Keys in sorted order, as `JSONValue.serialized()` writes them.
    static func summary(_ r: RequestSummary, now: Date, into w: inout JSONStreamWriter) {
        let flags = r.slaDueAt.map { PreviewSLA.flags(at: now, dueAt: $0, atRiskAt: r.slaAtRiskAt ?? $0, metAt: r.slaMetAt) }
        func date(_ d: Date?) -> String? { d.map(Timestamp.rfc3339) }
        w.beginObject()
        w.key("assignee")
        w.string(r.assigneeEmail)
        w.key("created_at")
        w.string(date(r.createdAt))
        w.key("department")
        w.string(r.department)
        w.key("division")
        w.string(r.division)
        w.key("etag")
        w.string(ETag.make(r.version))
        w.key("id")
        w.string(r.id.lowercasedString)
        w.key("info_complete_at")
        w.string(date(r.infoCompleteAt))
        w.key("kind")
        w.string(r.kind.rawValue)
        w.key("missing_items")
        w.beginArray()
        for item in r.missingItems { w.string(item.rawValue) }
        w.endArray()
        w.key("reference")
        w.string(r.reference)
        w.key("service_name")
        w.string(r.serviceName)
        w.key("sign_off_decision")
        w.string(r.signOffDecision?.rawValue)
        w.key("sla_at_risk")
        w.bool(flags?.atRisk ?? false)
        w.key("sla_breached")
        w.bool(flags?.breached ?? false)
        w.key("sla_due_at")
        w.string(date(r.slaDueAt))
        w.key("state")
        w.string(r.state.rawValue)
        w.key("updated_at")
        w.string(date(r.updatedAt))
        w.key("version")
        w.int(r.version)
        w.endObject()
    }

    static func event(_ e: EventRecord) -> JSONValue {
        .object([
            "id": .number(Double(e.id)),
            "request_id": .string(e.requestID.lowercasedString),
            "version": .number(Double(e.version)),
            "kind": .string(e.kind),
            "actor": .object(["kind": .string(e.actorKind.rawValue), "id": string(e.actorID)]),
            "occurred_at": date(e.occurredAt),
            "data": e.data,
        ])
    }

    static func staff(_ s: StaffRecord) -> JSONValue {
        .object([
            "id": .string(s.id.lowercasedString),
            "email": .string(s.email),
            "name": .string(s.name),
            "role": .string(s.role.rawValue),
            "created_at": date(s.createdAt),
            "disabled_at": date(s.disabledAt),
        ])
    }

    static func token(_ t: TokenRecord) -> JSONValue {
        .object([
            "id": .string(t.id.lowercasedString),
            "staff_id": .string(t.staffID.lowercasedString),
            "name": .string(t.name),
            "created_at": date(t.createdAt),
            "expires_at": date(t.expiresAt),
            "revoked_at": date(t.revokedAt),
            "last_used_at": date(t.lastUsedAt),
        ])
    }

    /// `body`: whether the caller may read the body (`null` otherwise).
    static func email(_ e: EmailRecord, attempts: [EmailAttempt]? = nil, body: Bool = false) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(e.id.lowercasedString),
            "request_id": string(e.requestID?.lowercasedString),
            "kind": .string(e.kind),
            "recipient": .string(e.recipient),
            "subject": .string(e.subject),
            "status": .string(e.status.rawValue),
            "dedup_key": string(e.dedupKey),
            "run_at": date(e.runAt),
            "attempts": .number(Double(e.attempts)),
            "max_attempts": .number(Double(e.maxAttempts)),
            "last_error": string(e.lastError),
            "message_id": .string(e.messageID),
            "created_at": date(e.createdAt),
            "sent_at": date(e.sentAt),
        ]
        if let attempts {
            // Bodies hold no link secret (they are minted at send time); placeholders read as `redacted`.
            o["body_text"] = body ? .string(LinkPlaceholder.redact(e.bodyText)) : .null
            o["attempt_history"] = .array(
                attempts.map {
                    .object([
                        "attempt": .number(Double($0.attempt)), "worker": .string($0.worker), "started_at": date($0.startedAt),
                        "finished_at": date($0.finishedAt), "outcome": string($0.outcome), "error": string($0.error),
                    ])
                })
        }
        return .object(o)
    }

    /// The lifecycle table as a document: the single source the docs and pages read.
    static func workflow() -> JSONValue {
        .object([
            "states": .array(
                RequestState.allCases.map {
                    .object(["name": .string($0.rawValue), "title": .string($0.title), "final": .bool($0.isFinal)])
                }),
            "transitions": .array(
                Lifecycle.table.map { def in
                    .object([
                        "name": .string(def.name.rawValue),
                        "from": .array(def.from.map { .string($0.rawValue) }),
                        "to": .string(def.to.rawValue),
                        "actors": .array(def.actors.sorted().map { .string($0.rawValue) }),
                        "inputs": .array(def.inputs.map { .string($0.rawValue) }),
                        "guards": .array(def.guards.map { .object(["code": .string($0.rawValue), "description": .string($0.summary)]) }),
                        "effects": .array(def.effects.map { .string($0.rawValue) }),
                        "summary": .string(def.summary),
                    ])
                }),
            "permissions": .object(
                Dictionary(
                    uniqueKeysWithValues: Permissions.matrix.map { actor, actions in
                        (actor.rawValue, JSONValue.array(actions.map { .string($0.name) }))
                    })),
            "mermaid": .string(WorkflowDiagram.mermaid()),
            "dot": .string(WorkflowDiagram.dot()),
        ])
    }
}
