import CallboardDomain
import CallboardServices
import CallboardStorage
import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The Performance Platform's write API, `/data/{data_group}/{data_type}`, answering as its
/// clients expect: `{"status": "ok", ...}` or `{"status": "error", "message": ...}` (with the
/// problem members beside them), never a 5xx for a refused record, since the official client
/// retries 500, 502 and 503.
struct WriteAPIController {
    let service: DataWriteService
    let staff: StaffService
    /// Largest body, compressed or not (a gzip bomb stops here too).
    let maxBytes: Int

    func register(_ r: CatalogedRoutes) {
        r.on(.post, "/:data_group/:data_type") { request, context in
            try await answer { try await write(request, context, replace: false) }
        }
        r.on(.put, "/:data_group/:data_type") { request, context in
            try await answer { try await write(request, context, replace: true) }
        }
        r.on(.get, "/:data_group/:data_type") { request, context in
            try await answer { try await read(request, context) }
        }
    }

    private func write(_ request: Request, _ context: AppContext, replace: Bool) async throws -> Response {
        // The token and the path first: nobody else's body is read, decompressed or parsed.
        guard let bearer = request.bearerToken, let token = try await service.authenticate(bearer: bearer) else {
            throw DataAPIRefusal.unauthorized("Send Authorization: Bearer <token> with a live write token of this data set")
        }
        let target = try await service.target(try Self.path(context), token: token)
        let body = try await readBody(request)
        let n = try await service.write(body, to: target, token: token, replace: replace)
        return JSONOutput.response(.object(["status": .string("ok"), "records": .number(Double(n))]))
    }

    private func read(_ request: Request, _ context: AppContext) async throws -> Response {
        let reader: DataWriteService.Reader
        if request.headers[.authorization] == nil {
            reader = .anonymous
        } else if let bearer = request.bearerToken, bearer.hasPrefix(DataWriteService.tokenPrefix),
            let t = try await service.authenticate(bearer: bearer)
        {
            reader = .token(t)
        } else if let bearer = request.bearerToken, let who = try await staff.authenticate(bearer: bearer) {
            reader = .staff(who)
        } else {
            throw DataAPIRefusal.unauthorized("The token is unknown, expired or revoked")
        }
        let pairs = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
        let data = try await service.read(try Self.path(context), query: pairs, as: reader)
        return JSONOutput.response(data)
    }

    /// The body's bytes, gzip undone (within `maxBytes`); the service parses them record by record.
    private func readBody(_ request: Request) async throws -> [UInt8] {
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        guard type == "application/json" else {
            throw Refusal(.unsupportedMediaType, "Send the records as application/json")
        }
        // body.collect, not collectBody: the request keeps no copy while the records are parsed and stored.
        var buffer = try await request.body.collect(upTo: maxBytes)
        switch request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased() {
        case nil, "identity": break
        case "gzip":
            guard buffer.readableBytes > 0 else { break }
            do {
                buffer = try buffer.decompress(with: .gzip(), maxSize: maxBytes + 1)
            } catch let e as CompressNIOError where e == .bufferOverflow {
                throw Refusal(.contentTooLarge, "The body is over \(maxBytes) bytes once decompressed")
            } catch {
                throw Refusal(.badRequest, "The body is not valid gzip")
            }
            if buffer.readableBytes > maxBytes { throw Refusal(.contentTooLarge, "The body is over \(maxBytes) bytes once decompressed") }
        default:
            throw Refusal(.unsupportedMediaType, "Content-Encoding must be gzip or identity")
        }
        guard buffer.readableBytes > 0 else { throw Refusal(.badRequest, "The body is empty: send a record or an array of records") }
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    static func path(_ context: AppContext) throws -> WritePath {
        guard let g = context.parameters.get("data_group"), let t = context.parameters.get("data_type") else { throw DataAPIRefusal.notFound }
        return WritePath(group: g, type: t)
    }

    /// A refusal of the HTTP layer's own (media type, size, encoding, syntax).
    struct Refusal: Error {
        var status: HTTPResponse.Status
        var message: String
        init(_ status: HTTPResponse.Status, _ message: String) {
            self.status = status
            self.message = message
        }
    }

    /// Runs `body`, answering every refusal in the platform's error shape; anything else (a real
    /// fault) goes on to ProblemMiddleware.
    private func answer(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let r as Refusal {
            return Self.error(r.status, r.message)
        } catch let r as DataAPIRefusal {
            switch r {
            case .unauthorized(let m): return Self.error(.unauthorized, m)
            case .forbidden(let m): return Self.error(.forbidden, m)
            case .notFound: return Self.error(.notFound, "No data set is written at this path")
            case .invalid(let m, let errors): return Self.error(.badRequest, m, errors: errors)
            }
        } catch is NIOTooManyBytesError {
            return Self.error(.contentTooLarge, "The body is over \(maxBytes) bytes")
        } catch let e as ServiceError {
            let p = Problem.from(e)
            return Self.error(p.status, p.detail, errors: p.errors)
        }
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, errors: [FieldError] = []) -> Response {
        var o: [String: JSONValue] = [
            "status": .string("error"), "message": .string(message),
            "type": .string("https://callboard.service.gov.uk/problems/write-api-\(status.code)"), "title": .string(status.reasonPhrase),
            "detail": .string(message),
        ]
        if !errors.isEmpty { o["errors"] = .array(errors.map { .object(["pointer": .string($0.pointer), "message": .string($0.message)]) }) }
        var headers = HTTPFields()
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"callboard-write-api\"" }
        return JSONOutput.response(.object(o), status: status, headers: headers)
    }
}
