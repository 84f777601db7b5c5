import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `/api/v1/requests/{id}/data-sets…` and `/api/v1/data-sets/{id}/uploads`.
struct DataSetsController {
    let dataSets: DataSetService
    let writes: DataWriteService
    /// Where write URLs point (`CALLBOARD_BASE_URL`).
    let baseURL: String

    func register(_ r: CatalogedRoutes) {
        r.on(.post, "/requests/:id/data-sets") { request, context in
            var request = request
            let body = try await request.requiredJSONBody(context: context)
            let view = try await dataSets.create(requestID: try context.parameters.uuid("id", what: "request"), body, by: try context.caller())
            return JSONOutput.response(JSONOutput.dataSet(view, baseURL: baseURL), status: .created)
        }
        r.on(.get, "/requests/:id/data-sets") { _, context in
            let list = try await dataSets.list(requestID: try context.parameters.uuid("id", what: "request"), by: try context.caller())
            return JSONOutput.response(.object(["items": .array(list.map { JSONOutput.dataSet($0, baseURL: baseURL) })]))
        }
        r.on(.patch, "/requests/:id/data-sets/:data_set_id") { request, context in
            var request = request
            let body = try await request.requiredJSONBody(context: context)
            let view = try await dataSets.update(
                requestID: try context.parameters.uuid("id", what: "request"),
                dataSetID: try context.parameters.uuid("data_set_id", what: "data set"), body, by: try context.caller())
            return JSONOutput.response(JSONOutput.dataSet(view, baseURL: baseURL))
        }
        r.on(.post, "/data-sets/:id/uploads") { request, context in
            var request = request
            let body = try await request.jsonBody(context: context)
            let (upload, view) = try await dataSets.recordUpload(
                dataSetID: try context.parameters.uuid("id", what: "data set"), body,
                by: try context.caller())
            return JSONOutput.response(
                .object(["upload": JSONOutput.upload(upload), "data_set": JSONOutput.dataSet(view, baseURL: baseURL)]), status: .created)
        }
        // Write-API tokens: the token is in the creation answer only.
        r.on(.post, "/data-sets/:id/write-tokens") { request, context in
            var request = request
            let body = try await request.jsonBody(context: context)
            let (token, record) = try await writes.createToken(
                dataSetID: try context.parameters.uuid("id", what: "data set"), body, by: try context.caller())
            // no-store: an Idempotency-Key replay is remembered without the token (IdempotencyMiddleware).
            return JSONOutput.response(JSONOutput.writeToken(record, token: token), status: .created, headers: [.cacheControl: "no-store"])
        }
        r.on(.get, "/data-sets/:id/write-tokens") { _, context in
            let list = try await writes.listTokens(dataSetID: try context.parameters.uuid("id", what: "data set"), by: try context.caller())
            return JSONOutput.response(.object(["items": .array(list.map { JSONOutput.writeToken($0) })]))
        }
        r.on(.delete, "/data-sets/:id/write-tokens/:token_id") { _, context in
            let t = try await writes.revokeToken(
                dataSetID: try context.parameters.uuid("id", what: "data set"),
                tokenID: try context.parameters.uuid("token_id", what: "write token"), by: try context.caller())
            return JSONOutput.response(JSONOutput.writeToken(t))
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

    /// A write token as listed; `token` only in the answer that created it.
    static func writeToken(_ t: WriteTokenRecord, token: String? = nil) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(t.id.lowercasedString), "data_set_id": .string(t.dataSetID.lowercasedString), "name": .string(t.name),
            "created_at": date(t.createdAt), "revoked_at": date(t.revokedAt), "last_used_at": date(t.lastUsedAt),
        ]
        if let token { o["token"] = .string(token) }
        return .object(o)
    }

    static func dataSet(_ v: DataSetView, baseURL: String) -> JSONValue {
        .object([
            "id": .string(v.record.id.lowercasedString),
            "request_id": .string(v.record.requestID.lowercasedString),
            "name": .string(v.record.name),
            "cadence": .string(v.record.schedule.cadence.rawValue),
            "due_working_days_after_period": .number(Double(v.record.schedule.dueWorkingDaysAfterPeriod)),
            "uploaders": .array(v.record.uploaders.map { .object(["name": .string($0.name), "email": .string($0.email)]) }),
            "fields": .array(v.record.fields.map { .object(["name": .string($0.name), "type": .string($0.type.rawValue)]) }),
            "data_group": v.record.writePath.map { .string($0.group) } ?? .null,
            "data_type": v.record.writePath.map { .string($0.type) } ?? .null,
            "write_url": v.record.writePath.map { .string(baseURL + $0.path) } ?? .null,
            "private": .bool(v.record.isPrivate),
            "last_write": v.record.lastWrite.map { w in
                .object([
                    "at": date(w.at), "records": .number(Double(w.records)), "source": .string(w.source),
                    "token_id": w.tokenID.map { .string($0.lowercasedString) } ?? .null,
                ])
            } ?? .null,
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
