import HTTPTypes
import Hummingbird
import Tracing

/// One server span per request, named `METHOD /route/{template}` and carrying the route template,
/// never the path: paths carry link tokens, so Hummingbird's `TracingMiddleware` (which records
/// `url.path` and `url.query`) is not used. No header, query or body is recorded. An incoming
/// `traceparent` is honoured. The span ends when the response is ready (a streamed body is not
/// timed). With no tracer bootstrapped (tracing off) the spans cost next to nothing.
struct RequestTracingMiddleware: RouterMiddleware {
    typealias Context = AppContext

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        var parent = ServiceContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &parent, using: HeaderExtractor())
        let method = request.method.rawValue
        return try await withSpan("\(method) unmatched", context: parent, ofKind: .server) { span in
            span.attributes["http.request.method"] = method
            if let requestID = context.logger[metadataKey: "request_id"] { span.attributes["callboard.request_id"] = requestID.description }
            do {
                let response = try await next(request, context)
                Self.finish(span, method: method, context: context, status: response.status)
                return response
            } catch {
                Self.finish(span, method: method, context: context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError)
                throw error
            }
        }
    }

    private static func finish(_ span: any Span, method: String, context: AppContext, status: HTTPResponse.Status) {
        if let route = context.endpointPath {
            span.operationName = "\(method) \(route)"
            span.attributes["http.route"] = route
        }
        span.attributes["http.response.status_code"] = Int(status.code)
        if status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
    }
}

/// Reads trace context (`traceparent`, `tracestate`, `baggage`) from request headers.
private struct HeaderExtractor: Extractor {
    func extract(key: String, from fields: HTTPFields) -> String? {
        guard let name = HTTPField.Name(key) else { return nil }
        return fields[name]
    }
}
