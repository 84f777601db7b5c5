import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/api/v1/requests/{id}/data-sets…` and `/api/v1/data-sets/{id}/uploads`.
struct DataSetsController {
    let dataSets: DataSetService

    func register(_ r: CatalogedRoutes) {
        r.on(.post, "/requests/:id/data-sets") { request, context in
            var request = request
            let body = try await request.requiredJSONBody(context: context)
            let view = try await dataSets.create(requestID: try context.parameters.uuid("id", what: "request"), body, by: try context.caller())
            return JSONOutput.response(JSONOutput.dataSet(view), status: .created)
        }
        r.on(.get, "/requests/:id/data-sets") { _, context in
            let list = try await dataSets.list(requestID: try context.parameters.uuid("id", what: "request"), by: try context.caller())
            return JSONOutput.response(.object(["items": .array(list.map(JSONOutput.dataSet))]))
        }
        r.on(.patch, "/requests/:id/data-sets/:data_set_id") { request, context in
            var request = request
            let body = try await request.requiredJSONBody(context: context)
            let view = try await dataSets.update(
                requestID: try context.parameters.uuid("id", what: "request"),
                dataSetID: try context.parameters.uuid("data_set_id", what: "data set"), body, by: try context.caller())
            return JSONOutput.response(JSONOutput.dataSet(view))
        }
        r.on(.post, "/data-sets/:id/uploads") { request, context in
            var request = request
            let body = try await request.jsonBody(context: context)
            let (upload, view) = try await dataSets.recordUpload(
                dataSetID: try context.parameters.uuid("id", what: "data set"), body,
                by: try context.caller())
            return JSONOutput.response(.object(["upload": JSONOutput.upload(upload), "data_set": JSONOutput.dataSet(view)]), status: .created)
        }
    }
}

extension JSONOutput {
    static func upload(_ u: UploadRecord) -> JSONValue {
        .object([
            "id": .string(u.id.lowercasedString),
            "period_start": .string(u.period.start.description),
            "period_end": .string(u.period.end.description),
            "received_at": date(u.receivedAt),
            "source": .string(u.source),
            "note": .string(u.note),
        ])
    }

    static func dataSet(_ v: DataSetView) -> JSONValue {
        .object([
            "id": .string(v.record.id.lowercasedString),
            "request_id": .string(v.record.requestID.lowercasedString),
            "name": .string(v.record.name),
            "cadence": .string(v.record.schedule.cadence.rawValue),
            "due_working_days_after_period": .number(Double(v.record.schedule.dueWorkingDaysAfterPeriod)),
            "uploaders": .array(v.record.uploaders.map { .object(["name": .string($0.name), "email": .string($0.email)]) }),
            "fields": .array(v.record.fields.map(JSONValue.string)),
            "current_period": .object(["start": .string(v.period.start.description), "end": .string(v.period.end.description)]),
            "due_date": .string(v.due.date.description),
            "due_uncertain": .bool(v.due.uncertain),
            "status": .string(v.status.rawValue),
            "last_upload": v.lastUpload.map(upload) ?? .null,
            "created_at": date(v.record.createdAt),
            "updated_at": date(v.record.updatedAt),
        ])
    }
}
