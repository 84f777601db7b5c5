import CallboardDomain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore

extension Request {
    /// Reads a JSON body: 415 for another media type, 413 past 1 MB, 400 for malformed JSON.
    /// An empty body gives nil, for endpoints where the body is optional.
    mutating func jsonBody(context: AppContext) async throws -> JSONValue? {
        let buffer = try await collectBody(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { return nil }
        let type = headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        guard type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json")) else {
            throw Problem(
                .unsupportedMediaType, type: "unsupported-media-type", title: "Unsupported media type",
                detail: "Send the body as application/json")
        }
        do {
            return try JSONValue.parse(buffer.readableBytesView)
        } catch {
            throw Problem.badRequest("The body is not valid JSON: \(error.reason) at byte \(error.offset)", type: "malformed-json")
        }
    }

    /// A JSON body that must be present.
    mutating func requiredJSONBody(context: AppContext) async throws -> JSONValue {
        guard let body = try await jsonBody(context: context) else {
            throw Problem.badRequest("A JSON body is required", type: "missing-body")
        }
        return body
    }

    /// The token of `Authorization: Bearer <token>`, or nil (the admin API and the write API alike).
    var bearerToken: String? {
        guard let header = headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    /// The version the caller last saw: 428 without If-Match, 400 when it is not one of our ETags.
    func expectedVersion() throws -> Int {
        guard let header = headers[.ifMatch] else {
            throw Problem(
                .preconditionRequired, type: "if-match-required", title: "If-Match required",
                detail: "Send If-Match with the ETag from your last GET of this request")
        }
        guard let v = ETag.version(fromIfMatch: header) else {
            throw Problem.badRequest("If-Match must be an ETag this API gave, like \"v3\"", type: "bad-if-match")
        }
        return v
    }
}

extension Parameters {
    func uuid(_ name: String, what: String) throws -> UUID {
        guard let s = get(name), let id = UUID(uuidString: s) else { throw Problem.notFound(what) }
        return id
    }
}
