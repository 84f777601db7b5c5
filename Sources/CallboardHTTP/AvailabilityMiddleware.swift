import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird

/// While PostgreSQL does not answer, every route that needs it answers 503 at once with
/// `Retry-After` (problem+json for the API, an HTML page for pages) instead of waiting in the
/// pool; an error that shows the database gone on the way answers the same. Nothing is half
/// written: a request either committed before the outage or did not.
struct AvailabilityMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let monitor: DatabaseMonitor?
    let unavailable: UnavailableResponse

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        // Liveness, readiness and the static stylesheet never need the database to answer.
        let exempt =
            path.hasPrefix("/health/") || path == "/assets/callboard.css" || path == "/api/v1/openapi.yaml"
            || path == "/api/v1/workflow"
        if !exempt, let monitor, !monitor.isUp { return unavailable.response(for: path) }
        do {
            return try await next(request, context)
        } catch  where isDatabaseUnavailable(error) {
            monitor?.reportFailure()
            context.logger.warning("database unavailable", metadata: ["route": .string(context.endpointPath ?? "unmatched")])
            return unavailable.response(for: path)
        }
    }
}
