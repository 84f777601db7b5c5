import CallboardDomain
import CallboardServices
import CallboardStorage
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import PostgresNIO

/// `Idempotency-Key` on POST: the first successful response is stored and a retry gets it back
/// unchanged; the same key with a different body is a 422; a retry while the first is still running
/// is a 409. Errors are not remembered, so a retry after fixing the cause (a fresh If-Match, say) runs.
/// A response marked `Cache-Control: no-store` (a new token) is remembered without its secret.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let db: PostgresClient

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        guard request.method == .post, let key = request.headers[HTTPField.Name("Idempotency-Key")!] else {
            return try await next(request, context)
        }
        guard (1...255).contains(key.utf8.count), key.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7E }) else {
            throw Problem.badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters", type: "bad-idempotency-key")
        }
        let principal = try context.caller().actorID ?? "anonymous"
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        var hasher = SHA256()
        hasher.update(data: Data(request.method.rawValue.utf8))
        hasher.update(data: Data(request.uri.path.utf8))
        hasher.update(data: [0])
        hasher.update(data: Data(buffer: body))
        let fingerprint = Array(hasher.finalize())
        let logger = context.logger

        switch try await IdempotencyStore.claim(principal: principal, key: key, fingerprint: fingerprint, on: db, logger: logger) {
        case .existing(let stored):
            guard stored.fingerprint == fingerprint else {
                throw Problem(
                    .unprocessableContent, type: "idempotency-key-reused", title: "Idempotency-Key reused",
                    detail: "This Idempotency-Key was used with a different request; use a new key")
            }
            guard let status = stored.status else {
                throw Problem(
                    .conflict, type: "idempotency-in-progress", title: "Request in progress",
                    detail: "A request with this Idempotency-Key is still being processed; retry shortly")
            }
            var headers = HTTPFields()
            for (name, value) in stored.headers { if let n = HTTPField.Name(name) { headers[n] = value } }
            headers[HTTPField.Name("Idempotent-Replayed")!] = "true"
            return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: stored.body)))
        case .claimed:
            let response: Response
            do {
                response = try await next(request, context)
            } catch {
                try? await IdempotencyStore.release(principal: principal, key: key, on: db, logger: logger)
                throw error
            }
            guard (200..<300).contains(response.status.code) else {
                try? await IdempotencyStore.release(principal: principal, key: key, on: db, logger: logger)
                return response
            }
            return try await remember(response, principal: principal, key: key, logger: logger)
        }
    }

    private func remember(_ response: Response, principal: String, key: String, logger: Logger) async throws -> Response {
        let sink = CollectedBody()
        var response = response
        try await response.body.write(CollectingWriter(sink: sink))
        let bytes = sink.bytes
        var headers: [String: String] = [:]
        for field in response.headers where [.contentType, .eTag, .location, .cacheControl].contains(field.name) {
            headers[field.name.canonicalName] = field.value
        }
        var stored = bytes
        if response.headers[.cacheControl] == "no-store", case .object(var o)? = try? JSONValue.parse(bytes) {
            // A new API or write token, or a new webhook's signing secret: only the keys present.
            for key in ["token", "secret"] where o[key] != nil { o[key] = .null }
            stored = JSONOutput.encode(.object(o))
        }
        try await IdempotencyStore.complete(
            principal: principal, key: key, status: Int(response.status.code), headers: headers,
            body: stored, on: db, logger: logger)
        response.body = .init(byteBuffer: ByteBuffer(bytes: bytes))
        return response
    }
}

/// Accumulates a response body so it can be stored and sent.
private final class CollectedBody: @unchecked Sendable {
    var bytes: [UInt8] = []
}

private struct CollectingWriter: ResponseBodyWriter {
    let sink: CollectedBody
    mutating func write(_ buffer: ByteBuffer) async throws { sink.bytes.append(contentsOf: buffer.readableBytesView) }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
