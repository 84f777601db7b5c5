import CallboardDomain
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// Everything the HTTP application needs, built once by `serve` (or by a test).
public struct AppDependencies: Sendable {
    public var db: PostgresClient
    public var time: any TimeSource
    public var logger: Logger
    public var metrics: HTTPMetrics
    public var catalog: RouteCatalog
    public var email: EmailSettings
    /// nil: the bundled bank-holiday snapshot and 5 working days.
    public var sla: PreviewSLAHolder?
    /// The reminder rules the dry run (`/reminders/preview`) applies.
    public var scheduler: SchedulerSettings
    /// Whether PostgreSQL answers (`serve` runs it; nil in tests: always up).
    public var monitor: DatabaseMonitor?
    /// Whether requests get spans (`serve` sets it when tracing is on). Off, no span is even
    /// started: a tracer bootstrapped for some other reason (a test's in-memory one) sees nothing.
    public var tracing: Bool
    /// The write API's largest body, compressed or not.
    public var writeAPIMaxBytes: Int
    /// Who may apply at the front door; whose X-Forwarded-For is believed.
    public var frontDoor: FrontDoorSettings
    /// The key that seals webhook secrets (none: webhooks cannot be created) and which targets are accepted.
    public var webhooks: WebhookSettings

    public init(
        db: PostgresClient, time: any TimeSource = SystemTime(), logger: Logger,
        metrics: HTTPMetrics = HTTPMetrics(), catalog: RouteCatalog = RouteCatalog(), email: EmailSettings = EmailSettings(),
        sla: PreviewSLAHolder? = nil, scheduler: SchedulerSettings = SchedulerSettings(), monitor: DatabaseMonitor? = nil,
        tracing: Bool = false, writeAPIMaxBytes: Int = 10_485_760, frontDoor: FrontDoorSettings = FrontDoorSettings(),
        webhooks: WebhookSettings = WebhookSettings()
    ) {
        self.webhooks = webhooks
        self.frontDoor = frontDoor
        self.writeAPIMaxBytes = writeAPIMaxBytes
        self.monitor = monitor
        self.tracing = tracing
        self.sla = sla
        self.scheduler = scheduler
        self.db = db
        self.time = time
        self.logger = logger
        self.metrics = metrics
        self.catalog = catalog
        self.email = email
    }
}

/// Builds the router: public operations routes, then the token-protected admin API under /api/v1.
public func buildRouter(_ deps: AppDependencies) throws -> Router<AppContext> {
    let router = Router(context: AppContext.self)
    router.add(middleware: ObservabilityMiddleware(metrics: deps.metrics))
    if deps.tracing { router.add(middleware: RequestTracingMiddleware()) }
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: MethodNotAllowedMiddleware(catalog: deps.catalog))
    let pages = try PageRenderer.bundled()
    router.add(middleware: AvailabilityMiddleware(monitor: deps.monitor, unavailable: UnavailableResponse(pages: pages)))

    let outbox = EmailOutbox(settings: deps.email, templates: try EmailTemplates.bundled())
    let sla = try deps.sla ?? PreviewSLAHolder(.bundled())
    let requests = RequestService(db: deps.db, time: deps.time, logger: deps.logger, outbox: outbox, sla: sla, stages: deps.metrics.stages)
    let staff = StaffService(db: deps.db, time: deps.time, logger: deps.logger)
    let exports = ExportService(db: deps.db, time: deps.time, logger: deps.logger)
    let ops = OperationsController(
        db: deps.db, migrator: Migrator(migrations: try Migration.bundled(), logger: deps.logger),
        logger: deps.logger, monitor: deps.monitor)

    ops.registerPublic(CatalogedRoutes(group: router.group(""), prefix: "", catalog: deps.catalog))
    // The OpenAPI and workflow documents are public: they describe the API, not its data.
    ops.registerAPI(CatalogedRoutes(group: router.group("api/v1"), prefix: "/api/v1", catalog: deps.catalog))

    let dataSets = DataSetService(db: deps.db, time: deps.time, logger: deps.logger, sla: sla, outbox: outbox)
    let webhooks = WebhookService(db: deps.db, time: deps.time, logger: deps.logger, settings: deps.webhooks)
    let stats = StatsService(db: deps.db, time: deps.time, logger: deps.logger, sla: sla)

    // Pages for people who click links in emails: HTML, security headers, no API token.
    let pageRoutes = PageRoutes(
        group: router.group("").add(middleware: SecurityHeadersMiddleware<AppContext>())
            .add(middleware: SameOriginMiddleware<AppContext>(baseURL: deps.email.baseURL)))
    pageRoutes.on(.get, "/assets/callboard.css") { _, _ in
        var headers = HTTPFields()
        headers[.contentType] = "text/css; charset=utf-8"
        headers[.cacheControl] = "public, max-age=3600"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: pages.css)))
    }
    SignOffPages(
        service: SignOffService(db: deps.db, time: deps.time, logger: deps.logger, outbox: outbox, sla: sla, stages: deps.metrics.stages),
        pages: pages
    ).register(pageRoutes)
    StaffPages(
        signIn: StaffSignInService(db: deps.db, time: deps.time, logger: deps.logger, outbox: outbox), requests: requests,
        dataSets: dataSets, writes: DataWriteService(db: deps.db, time: deps.time, logger: deps.logger), staff: staff,
        emails: EmailService(db: deps.db, time: deps.time, logger: deps.logger), stats: stats, exports: exports, pages: pages, time: deps.time,
        secureCookies: deps.email.baseURL.hasPrefix("https://"), baseURL: deps.email.baseURL, webhooks: webhooks
    ).register(pageRoutes)
    UploadPages(
        service: UploadPageService(db: deps.db, time: deps.time, logger: deps.logger, dataSets: dataSets), pages: pages,
        baseURL: deps.email.baseURL
    ).register(pageRoutes)
    TaskListPages(
        service: TaskListService(db: deps.db, time: deps.time, logger: deps.logger, outbox: outbox, sla: sla, stages: deps.metrics.stages),
        sla: sla, pages: pages
    ).register(pageRoutes)

    ApplyPages(
        service: ApplyService(db: deps.db, time: deps.time, logger: deps.logger, outbox: outbox, requests: requests, settings: deps.frontDoor),
        pages: pages, secureCookies: deps.email.baseURL.hasPrefix("https://")
    ).register(pageRoutes)

    // The Performance Platform's write API: its own tokens, its own error shape, no idempotency keys.
    WriteAPIController(
        service: DataWriteService(db: deps.db, time: deps.time, logger: deps.logger), staff: staff, maxBytes: deps.writeAPIMaxBytes
    ).register(CatalogedRoutes(group: router.group("data"), prefix: "/data", catalog: deps.catalog))

    let api = router.group("api/v1")
        .add(middleware: AuthMiddleware(staff: staff))
        .add(middleware: IdempotencyMiddleware(db: deps.db))
    let routes = CatalogedRoutes(group: api, prefix: "/api/v1", catalog: deps.catalog)
    RequestsController(requests: requests).register(routes)
    ExportController(exports: exports).register(routes)
    StaffController(staff: staff).register(routes)
    EmailsController(emails: EmailService(db: deps.db, time: deps.time, logger: deps.logger)).register(routes)
    WebhooksController(webhooks: webhooks).register(routes)
    DataSetsController(
        dataSets: dataSets, writes: DataWriteService(db: deps.db, time: deps.time, logger: deps.logger), baseURL: deps.email.baseURL
    ).register(routes)
    StatsController(stats: stats).register(routes)
    RemindersController(
        scheduler: ReminderScheduler(
            db: deps.db, time: deps.time, logger: deps.logger, outbox: outbox, sla: sla,
            settings: deps.scheduler), time: deps.time
    ).register(routes)
    return router
}

/// The server `serve` runs: the router behind a per-request deadline, idle connections closed.
public func buildApplication(
    _ deps: AppDependencies, hostname: String, port: Int, requestTimeoutSeconds: Int = 15, idleTimeoutSeconds: Int = 30
) throws -> some ApplicationProtocol {
    let router = try buildRouter(deps)
    return Application(
        responder: DeadlineResponder(
            inner: router.buildResponder(), seconds: Double(requestTimeoutSeconds), unavailable: UnavailableResponse(pages: try .bundled())),
        server: .http1(configuration: .init(idleTimeout: .seconds(Int64(idleTimeoutSeconds)))),
        configuration: .init(address: .hostname(hostname, port: port), serverName: "callboard"),
        services: [],
        logger: deps.logger)
}
