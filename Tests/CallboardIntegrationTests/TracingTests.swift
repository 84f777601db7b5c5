import CallboardDomain
import CallboardServices
import Foundation
import HTTPTypes
import InMemoryTracing
import Testing
import Tracing

/// The in-memory tracer every test in this process shares: `InstrumentationSystem.bootstrap` may run
/// once per process, so it is bootstrapped on first use and each test finds its own spans by trace
/// id. (Tests elsewhere that run afterwards record spans here too; they are never looked at.)
enum TestTracer {
    static let shared: InMemoryTracer = {
        // Extractions would keep every request's headers (tokens included): not recorded.
        let tracer = InMemoryTracer(recordInjections: false, recordExtractions: false)
        InstrumentationSystem.bootstrap(tracer)
        return tracer
    }()

    /// Every finished span of `traceID`, in the order they started.
    static func trace(_ traceID: String) -> [FinishedInMemorySpan] {
        shared.finishedSpans.filter { $0.traceID == traceID }.sorted {
            $0.startInstant.nanosecondsSinceEpoch < $1.startInstant.nanosecondsSinceEpoch
        }
    }

    /// A span's attributes by name (`SpanAttributes` is no `Sequence`).
    static func attributes(_ span: FinishedInMemorySpan) -> [String: SpanAttribute] {
        var out: [String: SpanAttribute] = [:]
        // swift-format-ignore: ReplaceForEachWithForLoop
        span.attributes.forEach { key, value in out[key] = value }
        return out
    }

    /// Every span's name and attributes as text (`key=string("value")`), for "nothing secret is recorded" checks.
    static func attributeTexts(_ spans: [FinishedInMemorySpan]) -> [String] {
        spans.flatMap { span in [span.operationName] + attributes(span).map { "\($0.key)=\($0.value)" } }
    }
}

@Suite struct TracingTests {
    @Test func oneTransitionIsOneTrace() async throws {
        let tracer = TestTracer.shared
        try await TestApp.run(tracing: true) { app in
            let created = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
            let id = created.json["id"]!.stringValue!
            let requestID = "trace-\(UUID().uuidString)"
            let path = "/api/v1/requests/\(id)/transitions/request_sign_off"
            let r = try await app.call(.post, path, headers: [.ifMatch: created.etag!, HTTPField.Name("X-Request-Id")!: requestID])
            #expect(r.status == .ok)

            // The request span is the root: found by the request id it records.
            let roots = tracer.finishedSpans.filter { TestTracer.attributes($0)["callboard.request_id"] == .string(requestID) }
            try #require(roots.count == 1)
            let root = roots[0]
            #expect(root.parentSpanID == nil)
            #expect(root.kind == .server)
            let spans = TestTracer.trace(root.traceID)
            // Exactly the request, its one transaction and the transaction's statements, all in one trace.
            #expect(
                spans.map(\.operationName) == [
                    "POST /api/v1/requests/{id}/transitions/{name}", "transaction", "BEGIN", "COMMIT",
                ])
            #expect(Set(spans.map(\.traceID)).count == 1)
            let transaction = try #require(spans.first { $0.operationName == "transaction" })
            #expect(transaction.parentSpanID == root.spanID)
            #expect(spans.filter { ["BEGIN", "COMMIT"].contains($0.operationName) }.allSatisfy { $0.parentSpanID == transaction.spanID })
            #expect(root.attributes["http.route"]?.toSpanAttribute() == .string("/api/v1/requests/{id}/transitions/{name}"))
            #expect(root.attributes["http.request.method"]?.toSpanAttribute() == .string("POST"))
            #expect(root.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(200))
            #expect(root.attributes["url.path"] == nil)

            // No path, request id in a path, token or path segment anywhere.
            let texts = TestTracer.attributeTexts(spans)
            for secret in [path, id, app.adminToken, "request_sign_off"] {
                #expect(!texts.contains { $0.contains(secret) }, "a span records \(secret)")
            }
        }
    }

    @Test func aSchedulerTickIsOneTrace() async throws {
        _ = TestTracer.shared
        try await TestApp.run(tracing: true) { app in
            _ = try await app.createRequest(Items.all)
            let scheduler = try app.scheduler()
            // Under a span of this test's own, so its tick is told apart from other tests' ticks.
            let marker = "test-\(UUID().uuidString)"
            let traceID = try await withSpan(marker) { span in
                try await scheduler.tick()
                return span.context.inMemorySpanContext!.traceID
            }
            let names = TestTracer.trace(traceID).map(\.operationName)
            #expect(names.first == marker)
            #expect(names.dropFirst().first == "scheduler tick")
            #expect(names.contains("transaction") && names.contains("SELECT requests") && names.contains("COMMIT"))
        }
    }

    @Test func aWorkerBatchIsOneTraceWithASpanPerSend() async throws {
        _ = TestTracer.shared
        try await TestApp.run(tracing: true) { app in
            _ = try await app.requestAwaitingSignOff()
            let transport = RecordingTransport()
            let worker = app.worker(transport)
            let marker = "test-\(UUID().uuidString)"
            let (claimed, traceID) = try await withSpan(marker) { span in
                (try await worker.runOnce(), span.context.inMemorySpanContext!.traceID)
            }
            #expect(claimed == 1)
            let spans = TestTracer.trace(traceID)
            #expect(spans.map(\.operationName) == [marker, "email batch", "INSERT link_tokens", "email send", "UPDATE emails"])
            let send = try #require(spans.first { $0.operationName == "email send" })
            #expect(TestTracer.attributes(send)["callboard.email.outcome"] == .string("sent"))
            #expect(TestTracer.attributes(send)["callboard.email.kind"] == .string("sign_off_request"))
            // Neither the address, the subject nor the body (with its link token) is recorded.
            let sent = try #require(transport.sent.withLock { $0.first })
            let texts = TestTracer.attributeTexts(spans)
            for secret in ["grace@dvla.gov.uk", sent.subject] + sent.text.split(separator: "\n").map(String.init).filter({ $0.count > 12 }) {
                #expect(!texts.contains { $0.contains(secret) }, "a span records \(secret)")
            }
        }
    }

    @Test func tracingIsOffUnlessTheStandardVariablesTurnItOn() throws {
        let base = ["DATABASE_URL": "postgres://callboard@127.0.0.1:5432/callboard"]
        let off = try Settings(environment: base)
        #expect(!off.tracingEnabled)
        #expect(off.otlpTracesURL == "http://localhost:4318/v1/traces")

        let endpoint = try Settings(environment: base.merging(["OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318/"]) { $1 })
        #expect(endpoint.tracingEnabled)
        #expect(endpoint.otlpTracesURL == "https://collector:4318/v1/traces")

        let exporter = try Settings(environment: base.merging(["OTEL_TRACES_EXPORTER": "otlp"]) { $1 })
        #expect(exporter.tracingEnabled && exporter.otlpTracesURL == "http://localhost:4318/v1/traces")

        let none = try Settings(
            environment: base.merging(["OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:1/t"]) { $1 })
        #expect(!none.tracingEnabled && none.otlpTracesURL == "http://c:1/t")

        let headers = try Settings(environment: base.merging(["OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%3Db, x-team = perf "]) { $1 })
        #expect(headers.otlpHeaders == [OTLPHeader(name: "api-key", value: "a=b"), OTLPHeader(name: "x-team", value: "perf")])
        #expect(headers.effectiveLines().contains { $0.hasPrefix("OTEL_EXPORTER_OTLP_HEADERS=") && !$0.contains("a=b") && !$0.contains("a%3Db") })

        #expect(throws: SettingsError.self) { try Settings(environment: base.merging(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]) { $1 }) }
        #expect(throws: SettingsError.self) { try Settings(environment: base.merging(["OTEL_EXPORTER_OTLP_HEADERS": "novalue"]) { $1 }) }
    }
}
