import CallboardServices
import Logging
import OTel
import ServiceLifecycle

enum Traces {
    /// When the settings turn tracing on (`OTEL_TRACES_EXPORTER=otlp`, or an OTLP endpoint set), makes
    /// the OTLP/HTTP exporter the process's tracer and returns the service that batches and sends
    /// spans; it must run (and, on shutdown, flush) alongside the others. nil when tracing is off: no
    /// tracer is bootstrapped and every span is a no-op. Only traces: metrics stay Prometheus and
    /// logs stay ours. The settings are the only reader of the `OTEL_*` variables (swift-otel is given
    /// an empty environment, so a variable the catalog does not list has no effect).
    static func bootstrap(_ settings: Settings, logger: Logger) throws -> (any Service)? {
        guard settings.tracingEnabled else { return nil }
        var config = OTel.Configuration.default
        config.serviceName = settings.otelServiceName
        config.diagnosticLogger = .custom(logger)
        config.logs.enabled = false
        config.metrics.enabled = false
        config.traces.enabled = true
        config.traces.exporter = .otlp
        config.traces.otlpExporter.endpoint = settings.otlpTracesURL
        config.traces.otlpExporter.protocol = settings.otlpProtocol == .httpJSON ? .httpJSON : .httpProtobuf
        config.traces.otlpExporter.headers = settings.otlpHeaders.map { ($0.name, $0.value) }
        let service = try OTel.bootstrap(configuration: config, environment: [:])
        logger.info("tracing", metadata: ["endpoint": .string(settings.otlpTracesURL), "protocol": .string(settings.otlpProtocol.rawValue)])
        return service
    }
}
