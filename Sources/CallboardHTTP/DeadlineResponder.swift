import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// Bounds every request (reading its body included) by `seconds`: past it the answer is 503 with
/// `Retry-After` (problem+json for the API, an HTML page for pages) and the handler is cancelled
/// and left to end on its own. It wraps the router's responder rather than being a middleware
/// because a middleware's `next` cannot outlive the call, and a query sent on a connection that
/// PostgreSQL has just closed never returns (see `withDeadline`).
struct DeadlineResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == AppContext {
    typealias Context = AppContext
    let inner: Inner
    let seconds: Double
    let unavailable: UnavailableResponse

    func respond(to request: Request, context: AppContext) async throws -> Response {
        do {
            return try await withDeadline(seconds: seconds) { try await inner.respond(to: request, context: context) }
        } catch is DeadlineExceeded {
            context.logger.warning("request exceeded its deadline", metadata: ["seconds": .stringConvertible(seconds)])
            return unavailable.response(for: request.uri.path, timedOut: true)
        }
    }
}

/// The 503 answered while the database is unreachable or a request ran out of time.
struct UnavailableResponse: Sendable {
    let pages: PageRenderer
    static let retryAfterSeconds = 5

    /// `timedOut`: the request ran out of time; whatever it was doing is rolled back if it had not
    /// committed, but it may have, so the answer does not claim that nothing changed.
    func response(for path: String, timedOut: Bool = false) -> Response {
        var response: Response
        let outcome =
            timedOut
            ? "The request took too long and was stopped; it may or may not have been applied. Check, or retry with the same Idempotency-Key."
            : "The database cannot be reached just now; nothing was changed. Try again in a few seconds."
        if path.hasPrefix("/data/") {
            // The write API's own shape: its clients read `status` and `message` (and retry a 503).
            response = WriteAPIController.error(
                .serviceUnavailable, outcome.replacingOccurrences(of: ", or retry with the same Idempotency-Key", with: ""))
        } else if path.hasPrefix("/api/") || path == "/metrics" {
            let problem = Problem(.serviceUnavailable, type: "unavailable", title: "Service unavailable", detail: outcome)
            var headers = HTTPFields()
            headers[.contentType] = "application/problem+json"
            response = Response(
                status: .serviceUnavailable, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONOutput.encode(problem.body))))
        } else {
            let advice = timedOut ? "It may not have been saved: check before trying again." : "Nothing was changed. Try again in a few seconds."
            response = pages.message("Sorry, the service is unavailable", [advice], status: .serviceUnavailable)
            SecurityHeadersMiddleware<AppContext>.apply(to: &response.headers)
        }
        response.headers[.retryAfter] = String(Self.retryAfterSeconds)
        return response
    }
}
