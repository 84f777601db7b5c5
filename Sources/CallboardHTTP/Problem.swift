import CallboardDomain
import CallboardServices
import Foundation
import HTTPTypes
import Hummingbird

/// An RFC 9457 problem document (`application/problem+json`), the only shape of error the API answers with.
public struct Problem: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var type: String
    public var title: String
    public var detail: String
    public var errors: [FieldError] = []
    /// Extra members (e.g. `allowed_transitions`, `unmet_guards`).
    public var extra: [String: JSONValue] = [:]
    public var headers: HTTPFields = [:]

    public init(
        _ status: HTTPResponse.Status, type: String, title: String, detail: String,
        errors: [FieldError] = [], extra: [String: JSONValue] = [:]
    ) {
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.errors = errors
        self.extra = extra
    }

    public var body: JSONValue {
        var o = extra
        o["type"] = .string("https://callboard.service.gov.uk/problems/" + type)
        o["title"] = .string(title)
        o["status"] = .number(Double(status.code))
        o["detail"] = .string(detail)
        if !errors.isEmpty {
            o["errors"] = .array(errors.map { .object(["pointer": .string($0.pointer), "message": .string($0.message)]) })
        }
        return .object(o)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: JSONOutput.encode(body))))
    }

    static func unauthorized(_ detail: String) -> Problem {
        var p = Problem(.unauthorized, type: "unauthorized", title: "Not signed in", detail: detail)
        p.headers[.wwwAuthenticate] = "Bearer realm=\"callboard\""
        return p
    }

    static func badRequest(_ detail: String, type: String = "bad-request") -> Problem {
        Problem(.badRequest, type: type, title: "Bad request", detail: detail)
    }

    static func invalid(_ errors: [FieldError]) -> Problem {
        Problem(
            .unprocessableContent, type: "validation", title: "The request has invalid fields",
            detail: errors.count == 1 ? "1 field is invalid" : "\(errors.count) fields are invalid", errors: errors)
    }

    static func notFound(_ what: String) -> Problem {
        Problem(.notFound, type: "not-found", title: "Not found", detail: "No such \(what)")
    }

    /// Maps an application error to its HTTP meaning.
    static func from(_ error: ServiceError) -> Problem {
        switch error {
        case .notFound(let what): return notFound(what)
        case .validation(let errors): return invalid(errors)
        case .stale(let current):
            var p = Problem(
                .preconditionFailed, type: "stale-version", title: "The request has changed",
                detail: "If-Match does not match the current version; GET the request again and reapply your change",
                extra: ["current_etag": .string(ETag.make(current))])
            p.headers[.eTag] = ETag.make(current)
            return p
        case .forbidden(let action):
            return Problem(
                .forbidden, type: "forbidden", title: "Not allowed",
                detail: "Your role may not \(action.name.replacingOccurrences(of: "_", with: " "))")
        case .conflict(let detail):
            return Problem(.conflict, type: "conflict", title: "Conflict", detail: detail)
        case .refused(let refusal):
            return from(refusal)
        }
    }

    static func from(_ refusal: TransitionRefusal) -> Problem {
        switch refusal {
        case .forbidden(let actor, let t):
            return Problem(
                .forbidden, type: "forbidden", title: "Not allowed",
                detail: "\(actor.rawValue) may not fire \(t.rawValue)",
                extra: ["allowed_actors": .array(Lifecycle.definition(t).actors.sorted().map { .string($0.rawValue) })])
        case .illegalFromState(let state, let t, let allowed):
            return Problem(
                .conflict, type: "illegal-transition", title: "Transition not allowed now",
                detail: "\(t.rawValue) cannot fire from \(state.rawValue)",
                extra: [
                    "state": .string(state.rawValue),
                    "allowed_transitions": .array(allowed.map { .string($0.rawValue) }),
                ])
        case .guardsUnmet(let t, let unmet, let allowed):
            return Problem(
                .conflict, type: "guards-unmet", title: "Conditions not met",
                detail: "\(t.rawValue) needs: " + unmet.map(\.message).joined(separator: "; "),
                extra: [
                    "unmet_guards": .array(unmet.map(JSONOutput.guardJSON)),
                    "allowed_transitions": .array(allowed.map { .string($0.rawValue) }),
                ])
        }
    }
}

enum ETag {
    static func make(_ version: Int) -> String { "\"v\(version)\"" }

    /// The version named by an If-Match header (strong or weak form), or nil when unreadable.
    static func version(fromIfMatch header: String) -> Int? {
        var s = header.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("W/") { s.removeFirst(2) }
        guard s.hasPrefix("\"v"), s.hasSuffix("\""), s.count > 3 else { return nil }
        let digits = s.dropFirst(2).dropLast()
        // Only the form this API writes: no sign, no leading zero.
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first != "0", digits.count <= 9 else { return nil }
        return Int(digits)
    }
}
