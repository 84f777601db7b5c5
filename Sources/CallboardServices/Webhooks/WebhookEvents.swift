import CallboardDomain
import CallboardStorage
import Foundation

/// The data of each event: identifiers and states only — no names, addresses or item values.
enum WebhookEvents {
    static func request(_ r: RequestRecord, _ type: WebhookEventType, at: Date, extra: [String: JSONValue] = [:]) -> WebhookEvent {
        var data = extra
        data["request_id"] = .string(r.id.lowercasedString)
        data["reference"] = .string(r.reference)
        data["state"] = .string(r.state.rawValue)
        data["version"] = .number(Double(r.version))
        return WebhookEvent(type: type, data: .object(data), at: at)
    }

    static func created(_ r: RequestRecord) -> WebhookEvent { request(r, .requestCreated, at: r.createdAt) }

    static func transitioned(_ r: RequestRecord, _ name: TransitionName, from: RequestState) -> WebhookEvent {
        request(r, .requestTransitioned, at: r.updatedAt, extra: ["transition": .string(name.rawValue), "from_state": .string(from.rawValue)])
    }

    /// `fields`: the names of what changed (never the values).
    static func updated(_ r: RequestRecord, fields: [String]) -> WebhookEvent {
        request(r, .requestUpdated, at: r.updatedAt, extra: ["fields": .array(fields.sorted().map(JSONValue.string))])
    }

    static func upload(_ r: RequestRecord, dataSetID: UUID, source: String, periods: [Period], at: Date) -> WebhookEvent {
        var extra: [String: JSONValue] = ["data_set_id": .string(dataSetID.lowercasedString), "source": .string(source)]
        if let p = periods.first {
            extra["period_start"] = .string(p.start.description)
            extra["period_end"] = .string(p.end.description)
        }
        return request(r, .uploadReceived, at: at, extra: extra)
    }

    static func breached(_ r: RequestRecord, at: Date) -> WebhookEvent {
        var extra: [String: JSONValue] = [:]
        if let due = r.sla?.dueAt { extra["due_at"] = .string(Timestamp.rfc3339(due)) }
        return request(r, .promiseBreached, at: at, extra: extra)
    }
}
