import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/upload/{token}`: an uploader's page for a data set: the period owed now and a CSV upload.
struct UploadPages {
    let service: UploadPageService
    let pages: PageRenderer
    /// Where the write URL points (`CALLBOARD_BASE_URL`).
    let baseURL: String

    func register(_ r: PageRoutes) {
        r.on(.get, "/upload/:token") { _, context in
            try await render(context.parameters.get("token") ?? "", problems: [])
        }
        r.on(.post, "/upload/:token") { request, context in
            let token = context.parameters.get("token") ?? ""
            // The link first: an unknown, expired or withdrawn one is answered without reading the body.
            let view: UploadPageService.View
            do { view = try await service.view(token: token) } catch LinkRefusal.unknownLink { return pages.notFound() }
            guard case .open = view else { return render(view, token: token, problems: []) }
            let body: [UInt8]
            do {
                body = Array(try await request.body.collect(upTo: context.maxUploadSize).readableBytesView)
            } catch is NIOTooManyBytesError {
                // What collect(upTo:) throws past its limit: the page says so, not the API's JSON problem.
                return render(
                    view, token: token, problems: [CSVProblem(line: 0, message: "The file must be smaller than 1 MB")], status: .contentTooLarge)
            }
            guard let boundary = request.headers[.contentType].flatMap(MultipartForm.boundary(fromContentType:)) else {
                return render(view, token: token, problems: [CSVProblem(line: 0, message: "Select a CSV file to upload")])
            }
            let form = MultipartForm.parse(body, boundary: boundary)
            guard let file = form["file"], !file.isEmpty else {
                return render(view, token: token, problems: [CSVProblem(line: 0, message: "Select a CSV file to upload")])
            }
            do {
                let (upload, rows) = try await service.upload(token: token, csrf: String(decoding: form["csrf"] ?? [], as: UTF8.self), file: file)
                return pages.message(
                    "Upload received",
                    [
                        "We have the data for \(upload.period.start.longText) to \(upload.period.end.longText).",
                        "You do not need to do anything else for this period.",
                    ],
                    panel: true, panelBody: "\(rows) rows")
            } catch UploadPageService.Failure.invalid(let problems) {
                return render(view, token: token, problems: problems)
            } catch LinkRefusal.badCSRF {
                return pages.formExpired("Open the link in your email again and upload the file from there.")
            } catch LinkRefusal.unknownLink {
                return try await render(token, problems: [])
            }
        }
    }

    private func render(_ token: String, problems: [CSVProblem], status: HTTPResponse.Status? = nil) async throws -> Response {
        let view: UploadPageService.View
        do { view = try await service.view(token: token) } catch LinkRefusal.unknownLink { return pages.notFound() }
        return render(view, token: token, problems: problems, status: status)
    }

    private func render(_ view: UploadPageService.View, token: String, problems: [CSVProblem], status: HTTPResponse.Status? = nil) -> Response {
        switch view {
        case .expired(_, let r):
            return pages.message(
                "This link has expired",
                [
                    "Upload links for the \(r.checklist.serviceName ?? "") dashboard work for 30 days; each reminder brings a new one.",
                    "Use the link in the latest email, or reply to it to ask for a new one.",
                ], status: .gone)
        case .closed(let r):
            return pages.message(
                "This request has been withdrawn", ["The \(r.checklist.serviceName ?? "") dashboard is closed. There is nothing to upload."])
        case .open(let link, let r, let d):
            let shown = problems.prefix(200)
            var errors = shown.map { ["field": "file", "message": $0.message] }
            if problems.count > shown.count { errors.append(["field": "file", "message": "and \(problems.count - shown.count) more problems"]) }
            var context: [String: Any] = [
                "title": "Upload \(d.record.name) data", "service_name": r.checklist.serviceName ?? "", "data_set": d.record.name, "token": token,
                "csrf": link.csrf, "email": link.email, "expires": London.date(of: link.expiresAt).longText,
                "period": "\(d.period.start.longText) to \(d.period.end.longText)", "due": d.due.date.longText,
                "status": d.status.rawValue.replacingOccurrences(of: "_", with: " ").capitalizedFirst,
                "columns": ([CSVUpload.timestampColumn] + d.record.fields.map(\.name)).joined(separator: ", "),
                "example_date": d.period.start.description,
                "value_rules": d.record.fields.isEmpty
                    ? "" : "; " + d.record.fields.map { "\($0.name) is \(Self.describe($0.type))" }.joined(separator: ", "),
                "has_errors": !errors.isEmpty, "errors": errors,
            ]
            if let p = d.record.writePath { context["write_url"] = baseURL + p.path }
            if let last = d.lastUpload {
                context["last_upload"] = "\(last.period.start) to \(last.period.end), received \(London.date(of: last.receivedAt).longText)"
            }
            return pages.page("upload", context, status: status ?? (errors.isEmpty ? .ok : .unprocessableContent))
        }
    }

    static func describe(_ t: FieldType) -> String {
        switch t {
        case .number: return "a number"
        case .string: return "text"
        case .boolean: return "true or false"
        }
    }
}
