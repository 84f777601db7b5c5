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
            return unavailable.response(for: request.uri.path)
        }
    }
}

/// The 503 answered while the database is unreachable or a request ran out of time.
struct UnavailableResponse: Sendable {
    let pages: PageRenderer
    static let retryAfterSeconds = 5

    func response(for path: String) -> Response {
        var response: Response
        if path.hasPrefix("/api/") || path == "/metrics" {
            let problem = Problem(
                .serviceUnavailable, type: "unavailable", title: "Service unavailable",
                detail: "The database cannot be reached just now; nothing was changed. Try again in a few seconds.")
            var headers = HTTPFields()
            headers[.contentType] = "application/problem+json"
            response = Response(
                status: .serviceUnavailable, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONOutput.encode(problem.body))))
        } else {
            response = pages.message(
                "Sorry, the service is unavailable", ["Nothing was changed. Try again in a few seconds."], status: .serviceUnavailable)
        }
        response.headers[.retryAfter] = String(Self.retryAfterSeconds)
        return response
    }
}
