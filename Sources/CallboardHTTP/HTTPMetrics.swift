import CallboardDomain
import CallboardServices
import CallboardStorage
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import Synchronization

/// Prometheus metrics of the HTTP server, per application instance (tests build many).
public final class HTTPMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// swift-metrics over this registry (`serve` bootstraps it), with the stage histograms' buckets.
    public var factory: PrometheusMetricsFactory {
        var f = PrometheusMetricsFactory(registry: registry)
        f.valueHistogramBuckets[StageDurations.label] = StageDurations.buckets
        return f
    }

    /// Where the services record how long requests spent in each stage.
    public var stages: StageDurations { StageDurations(factory: factory) }

    static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
    ]

    func record(route: String, method: HTTPRequest.Method, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: .init(
                namespace: "callboard", metricName: "http_requests", unitName: "total",
                helpText: "HTTP requests by route, method and status"),
            labels: [("route", route), ("method", method.rawValue), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: .init(
                namespace: "callboard", metricName: "http_request_duration", unitName: "seconds",
                helpText: "HTTP request latency by route"),
            labels: [("route", route)], buckets: Self.buckets
        ).record(duration)
    }

    func setEmailQueue(_ byStatus: [EmailStatus: Int], oldestQueuedSeconds: Double) {
        for status in EmailStatus.allCases {
            registry.makeGauge(
                descriptor: .init(
                    namespace: "callboard", metricName: "emails", unitName: "",
                    helpText: "Emails in the outbox by status"),
                labels: [("status", status.rawValue)]
            ).set(Double(byStatus[status] ?? 0))
        }
        registry.makeGauge(
            descriptor: .init(
                namespace: "callboard", metricName: "email_oldest_queued", unitName: "seconds",
                helpText: "Age of the oldest due email still queued"), labels: []
        ).set(oldestQueuedSeconds)
    }

    func setRequestsByState(_ counts: [RequestState: Int]) {
        for state in RequestState.allCases {
            registry.makeGauge(
                descriptor: .init(
                    namespace: "callboard", metricName: "requests", unitName: "",
                    helpText: "Dashboard requests by lifecycle state"),
                labels: [("state", state.rawValue)]
            ).set(Double(counts[state] ?? 0))
        }
    }
}

/// Outermost middleware: a request id on every response and log line, one access log line,
/// and the route metrics. Never logs headers (they carry tokens) or bodies. Hummingbird's own
/// `LogRequestsMiddleware` would log the raw URI (with link tokens), hence this one; its
/// `MetricsMiddleware` is not used either, so that the access line and the metric come from one
/// measurement under one route label (`unmatched` for unknown paths, never the path).
struct ObservabilityMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let metrics: HTTPMetrics

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var context = context
        let requestID =
            request.headers[HTTPField.Name("X-Request-Id")!].flatMap { id in
                id.count <= 64 && id.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } ? id : nil
            } ?? context.id
        context.logger[metadataKey: "request_id"] = .string(requestID)
        // The Performance Platform's clients send their own request id: logged when it is plain text.
        if let govuk = request.headers[HTTPField.Name("Govuk-Request-Id")!], (1...100).contains(govuk.utf8.count),
            govuk.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        {
            context.logger[metadataKey: "govuk_request_id"] = .string(govuk)
        }
        // Errors become responses in ProblemMiddleware (next in line); one that still escapes is
        // counted and logged with its status here and left to Hummingbird to answer.
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            record(request, context: context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError, since: start)
            throw error
        }
        record(request, context: context, status: response.status, since: start)
        var answered = response
        answered.headers[HTTPField.Name("X-Request-Id")!] = requestID
        return answered
    }

    /// One access log line (the route template, never the path: paths carry link tokens) and the route metrics.
    private func record(_ request: Request, context: AppContext, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        metrics.record(route: route, method: request.method, status: Int(status.code), duration: elapsed)
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "route": .string(route),
                "status": .stringConvertible(status.code),
                "duration_ms": .stringConvertible(
                    (Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000).rounded()),
            ])
    }
}
