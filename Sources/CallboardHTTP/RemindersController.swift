import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import Hummingbird

/// `/api/v1/reminders/preview`: what the scheduler would queue at an instant, queueing nothing.
struct RemindersController {
    let scheduler: ReminderScheduler
    let time: any TimeSource
    static let horizon: TimeInterval = 366 * 86_400

    func register(_ r: CatalogedRoutes) {
        r.on(.get, "/reminders/preview") { request, context in
            try context.caller().require(.readRequests)
            var q = QueryReader(request.uri, allowed: ["at"])
            let now = time.now()
            var at = now
            if let s = q.string("at") {
                // Bounded: the rules count working days one by one, and a tick far away in time answers nothing useful.
                if let d = Timestamp.parse(s), abs(d.timeIntervalSince(now)) <= Self.horizon {
                    at = d
                } else {
                    q.errors.add("/query/at", "must be an RFC 3339 instant within a year of now, like 2026-12-01T10:00:00Z")
                }
            }
            let limit = q.limit(default: 200, max: 1000)
            try q.finish()
            let preview = try await scheduler.preview(at: at, limit: limit)
            return JSONOutput.response(
                .object([
                    "at": JSONOutput.date(preview.at),
                    "truncated": .bool(preview.truncated),
                    "reminders": .array(
                        preview.reminders.map { p in
                            let owed = p.reminder.owed
                            return .object([
                                "dedup_key": .string(owed.dedupKey), "kind": .string(owed.kind.rawValue), "rule": .string(owed.kind.rule.rawValue),
                                "step": .number(Double(owed.step)), "request_id": .string(p.reminder.requestID.lowercasedString),
                                "data_set_id": JSONOutput.string(p.reminder.dataSetID?.lowercasedString),
                                "recipients": .array(p.reminder.recipients.map(JSONValue.string)),
                                "headline": .string(p.item.headline), "link": .string(p.item.link),
                            ])
                        }),
                    "emails": .array(
                        preview.digests.map { d in
                            .object([
                                "recipient": .string(d.email.recipient), "subject": .string(d.email.subject),
                                "reminders": .array(d.reminderKeys.map(JSONValue.string)),
                            ])
                        }),
                ]))
        }
    }
}
