import CallboardDomain
import CallboardStorage
import Foundation
import Logging

/// Every setting, once, in the order the docs list them. To add one: give `Settings` a typed field
/// whose initial value is the default, add one `.setting(...)` entry here, and regenerate the
/// reference with `callboard config docs > docs/configuration.md` (SettingsTests compares them).
/// A new type of value is a `SettingKind` extension (SettingDefinition.swift has the common ones);
/// a rule between settings goes in `Settings.crossCheck()`.
extension Settings {
    public static let catalog: [SettingEntry] = [
        // Database and server
        .setting(
            "DATABASE_URL", \.databaseURL, SettingKind<DatabaseURL>.databaseURL.optional, flag: "--database-url", default: "— (required)",
            redaction: .urlPassword, fileForm: true, required: true,
            help: "the PostgreSQL database; only `sslmode=verify-full` checks the server's certificate"),
        .setting(
            "CALLBOARD_DB_POOL_SIZE", \.databasePoolSize, .int(atLeast: 2), flag: "--db-pool-size",
            help: "most connections one process opens"),
        .setting(
            "CALLBOARD_HOSTNAME", \.hostname, .text, flag: "serve --hostname", accepted: "a host name or IP address",
            help: "address to listen on"),
        .setting("CALLBOARD_PORT", \.port, .int(1...65535), flag: "serve --port", help: "port to listen on"),
        .setting(
            "CALLBOARD_METRICS_HOSTNAME", \.metricsHostname, .text, accepted: "a host name or IP address",
            help: "address `serve` answers `GET /metrics` on, apart from the application's port (keep it private)"),
        .setting(
            "CALLBOARD_METRICS_PORT", \.metricsPort, .int(0...65535),
            help: "port `serve` answers `GET /metrics` on; 0 turns the metrics listener off"),
        .setting(
            "CALLBOARD_HTTP_IDLE_TIMEOUT_SECONDS", \.httpIdleTimeoutSeconds, .int(1...3600),
            help: "a connection that sends nothing for this long (half its headers, or nothing after a response) is closed"),
        .setting(
            "CALLBOARD_REQUEST_TIMEOUT_SECONDS", \.requestTimeoutSeconds, .int(1...600),
            help: "longest any request may take, reading its body included; past it the answer is 503 with Retry-After"),
        .setting(
            "CALLBOARD_WRITE_API_MAX_BYTES", \.writeAPIMaxBytes, .int(1024...1_073_741_824),
            help: "largest body the write API (`/data/…`) takes, in bytes, before and after gzip is undone; past it the answer is 413"),
        .setting(
            "CALLBOARD_MIGRATE_ON_START", \.migrateOnStart, .bool, flag: "serve --migrate",
            help: "apply pending migrations before serving; without it `serve` refuses a database with pending migrations"),
        .setting(
            "CALLBOARD_WITH_WORKER", \.withWorker, .bool, flag: "serve --with-worker",
            help: "also run the email worker and the reminder scheduler in the server process"),
        .setting("CALLBOARD_LOG_LEVEL", \.logLevel, .choice, help: "the least severe log lines written"),
        .setting(
            "CALLBOARD_LOG_FORMAT", \.logFormat, .choice, help: "`json` (one object per line, with `request_id`) or `text` (for people)"),
        // Links and promises
        .setting(
            "CALLBOARD_BASE_URL", \.baseURL, .httpURL,
            help:
                "public address used in emailed links; the pages take form posts only from its origin (scheme, host and port); "
                + "when https, the staff session cookie is `Secure`"),
        .setting(
            "CALLBOARD_SIGN_OFF_LINK_WORKING_DAYS", \.signOffLinkWorkingDays, .int(atLeast: 1),
            help: "emailed sign-off links work to the end of this many working days"),
        .setting(
            "CALLBOARD_CONTACT_LINK_DAYS", \.contactLinkDays, .int(atLeast: 1), help: "emailed task-list and upload links work this many days"),
        // The front door
        .setting(
            "CALLBOARD_APPLY_EMAIL_DOMAINS", \.applyEmailDomains, .domains, emptyIsValue: true,
            help: "an applicant's address must end in one of these domains (or a subdomain of one); empty lets nobody apply"),
        .setting(
            "CALLBOARD_TRUSTED_PROXIES", \.trustedProxies, .ipAddresses, emptyIsValue: true,
            help: "proxies whose `X-Forwarded-For` names the client (its last address not a trusted proxy); the front door's limits count that client"
        ),
        .setting(
            "CALLBOARD_PREVIEW_SLA_WORKING_DAYS", \.previewSLAWorkingDays, .int(atLeast: 1),
            help: "working days promised between complete information and a published preview"),
        // Email
        .setting("CALLBOARD_EMAIL_FROM", \.emailFrom, .text, accepted: "an address, optionally `Name <address>`", help: "From header"),
        .setting(
            "CALLBOARD_TEAM_EMAIL", \.teamEmail, SettingKind<String>.emailAddress.optional, accepted: "an email address, or empty",
            emptyIsValue: true, help: "where team notifications go; empty turns them off"),
        .setting(
            "CALLBOARD_MESSAGE_ID_DOMAIN", \.messageIDDomain, .text, accepted: "a domain name", help: "right-hand side of every `Message-ID`"),
        .setting("CALLBOARD_EMAIL_TRANSPORT", \.emailTransport, .choice, help: "how emails leave: files in a folder, an SMTP relay or GOV.UK Notify"),
        .setting("CALLBOARD_EMAIL_DIR", \.emailDirectory, .text, accepted: "a folder path", help: "folder for the `file` transport"),
        .setting(
            "CALLBOARD_SMTP_HOST", \.smtpHost, SettingKind<String>.text.optional, accepted: "a host name or IP address",
            help: "the SMTP relay; required for the `smtp` transport"),
        .setting(
            "CALLBOARD_SMTP_PORT", \.smtpPort, SettingKind<Int>.int(1...65535).optional, default: "587 (465 for `tls`)",
            help: "the relay's port"),
        .setting(
            "CALLBOARD_SMTP_SECURITY", \.smtpSecurity, .choice,
            help: "`starttls` refuses a server that does not offer it, `tls` is implicit TLS, `none` only for a local relay"),
        .setting(
            "CALLBOARD_SMTP_USERNAME", \.smtpUsername, SettingKind<String>.text.optional,
            help: "SMTP AUTH user (PLAIN, else LOGIN); credentials are never sent without TLS"),
        .setting(
            "CALLBOARD_SMTP_PASSWORD", \.smtpPassword, SettingKind<String>.text.optional, redaction: .secret, fileForm: true,
            help: "SMTP AUTH password"),
        .setting(
            "CALLBOARD_SMTP_CA_FILE", \.smtpCAFile, SettingKind<String>.readableFile.optional, default: "system CAs",
            help: "a PEM file of CA certificates to trust instead of the system's"),
        .setting("CALLBOARD_SMTP_TIMEOUT_SECONDS", \.smtpTimeoutSeconds, .int(atLeast: 1), help: "SMTP connection and command timeout"),
        .setting("CALLBOARD_SMTP_HELO", \.smtpHelo, .text, accepted: "a host name", help: "name given in EHLO/HELO"),
        .setting(
            "CALLBOARD_NOTIFY_API_KEY", \.notifyAPIKey, SettingKind<String>.notifyKey.optional, redaction: .secret, fileForm: true,
            help: "GOV.UK Notify key; required for the `notify` transport"),
        .setting(
            "CALLBOARD_NOTIFY_TEMPLATES", \.notifyTemplates, .notifyTemplates,
            help: "Notify template per email kind; personalisation carries `subject`, `body` and the template data"),
        .setting("CALLBOARD_NOTIFY_BASE_URL", \.notifyBaseURL, .httpURL, help: "the Notify API"),
        .setting("CALLBOARD_EMAIL_MAX_ATTEMPTS", \.emailMaxAttempts, .int(atLeast: 1), help: "attempts before an email is given up"),
        .setting(
            "CALLBOARD_EMAIL_RETRY_BASE_SECONDS", \.emailRetryBaseSeconds, .seconds(atLeast: 0, orEqual: false),
            help: "backoff doubles from this, capped at one hour, full jitter"),
        // Email worker
        .setting("CALLBOARD_WORKER_BATCH", \.workerBatch, .int(atLeast: 1), help: "emails claimed per statement"),
        .setting("CALLBOARD_WORKER_CONCURRENCY", \.workerConcurrency, .int(atLeast: 1), help: "emails sent at once per batch"),
        .setting(
            "CALLBOARD_WORKER_LOOPS", \.workerLoops, .int(1...16),
            help: "batches a worker delivers at once, each with its own sends: up to loops × concurrency at a time"),
        .setting(
            "CALLBOARD_EMAIL_LEASE_SECONDS", \.emailLeaseSeconds, .seconds(atLeast: 0, orEqual: false),
            help: "lease on a claimed email (extended every third of it while sending)"),
        .setting(
            "CALLBOARD_WORKER_POLL_SECONDS", \.workerPollSeconds, .seconds(atLeast: 0, orEqual: false),
            help: "poll for due emails when no NOTIFY arrives"),
        // Reminder scheduler
        .setting("CALLBOARD_SCHEDULER_INTERVAL_SECONDS", \.schedulerIntervalSeconds, .seconds(atLeast: 1), help: "how often the scheduler ticks"),
        .setting(
            "CALLBOARD_SCHEDULER_BATCH", \.schedulerBatch, .int(1...2000),
            help: "rows examined per transaction (a tick runs batches until the due rows run out)"),
        .setting(
            "CALLBOARD_REMINDER_WINDOW", \.reminderWindow, .timeWindow,
            help: "sending window, London time, on working days of the request's division"),
        .setting(
            "CALLBOARD_REMINDER_MISSING_INFORMATION", \.reminderMissingInformation, .counts(["first", "every", "max"], atLeastOne: ["every"]),
            help: "working days before the first chase of the service contact, between chases, and how many before one escalation to the team"),
        .setting(
            "CALLBOARD_REMINDER_SIGN_OFF", \.reminderSignOff, .counts(["first", "every", "max"], atLeastOne: ["every"]),
            help: "the same for the sign-off owner"),
        .setting(
            "CALLBOARD_REMINDER_UPLOAD", \.reminderUpload, .counts(["soon", "first", "every", "escalate"], atLeastOne: ["first", "every"]),
            help:
                "working days \"due soon\" before the due date; first overdue reminder after; then every; overdue reminders before the service contact and the team hear too"
        ),
        .setting(
            "CALLBOARD_PRODUCT_AUDIT_WORKING_DAYS", \.productAuditWorkingDays, .int(atLeast: 0),
            help: "working days live before the system starts the product audit"),
        // Retention job
        .setting(
            "CALLBOARD_RETENTION_INTERVAL_SECONDS", \.retentionIntervalSeconds, .seconds(atLeast: 1),
            help: "how often the worker runs the retention job (also once at start)"),
        .setting("CALLBOARD_RETENTION_BATCH", \.retentionBatch, .int(1...10000), help: "rows the retention job deletes or empties per statement"),
        .setting(
            "CALLBOARD_LINK_RETENTION_DAYS", \.linkRetentionDays, .int(atLeast: 0),
            help: "days an expired page link (and its tokens) is kept before it is deleted"),
        .setting(
            "CALLBOARD_SESSION_RETENTION_DAYS", \.sessionRetentionDays, .int(atLeast: 0),
            help: "days a staff session is kept after it expired or was signed out of"),
        .setting(
            "CALLBOARD_IDEMPOTENCY_RETENTION_HOURS", \.idempotencyRetentionHours, .int(atLeast: 1),
            help: "hours an Idempotency-Key's stored response is kept; a retry after that runs afresh"),
        .setting(
            "CALLBOARD_EMAIL_BODY_RETENTION_DAYS", \.emailBodyRetentionDays, .int(atLeast: 0),
            help: "days after sending that an email's body and template data are emptied (its metadata and attempts stay)"),
        // Webhooks and secrets
        .setting(
            "CALLBOARD_SECRET_KEY_FILE", \.secretKeyFile, SettingKind<String>.secretKeyFile.optional, default: "— (no webhooks)",
            help: "a file holding base64 of 32 random bytes (`head -c 32 /dev/urandom | base64`): the AES-256-GCM key that seals "
                + "webhook signing secrets; without it webhooks cannot be created or delivered (see docs/security.md for rotation)"),
        .setting(
            "CALLBOARD_WEBHOOKS_ALLOW_HTTP", \.webhooksAllowHTTP, .bool,
            help: "accept `http://` webhook URLs (local use only); otherwise only `https://`"),
        .setting(
            "CALLBOARD_WEBHOOKS_ALLOW_PRIVATE", \.webhooksAllowPrivate, .bool,
            help: "deliver webhooks to private, loopback and link-local addresses (tests and local use only)"),
        // Tracing (standard OpenTelemetry names; off unless one of the first three is set)
        .setting(
            "OTEL_TRACES_EXPORTER", \.tracesExporter, SettingKind<TracesExporter>.choice.optional,
            default: "`none`, or `otlp` when an OTLP endpoint is set",
            help: "`otlp` sends spans (request, transaction, statements, email send, scheduler tick) from `serve` and `worker` "
                + "over OTLP/HTTP; `none` turns tracing off"),
        .setting(
            "OTEL_EXPORTER_OTLP_ENDPOINT", \.otlpEndpoint, SettingKind<String>.httpURL.optional, default: "`http://localhost:4318`",
            help: "the collector's OTLP/HTTP address; spans go to its `/v1/traces`. Setting it turns tracing on"),
        .setting(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", \.otlpTracesEndpoint, SettingKind<String>.httpURL.optional,
            default: "the endpoint above + `/v1/traces`", help: "the full URL spans are sent to, used as it is. Setting it turns tracing on"),
        .setting(
            "OTEL_EXPORTER_OTLP_PROTOCOL", \.otlpProtocol, .choice,
            help: "OTLP encoding; `grpc` is not built in"),
        .setting(
            "OTEL_EXPORTER_OTLP_HEADERS", \.otlpHeaders, .otlpHeaders, redaction: .secret, fileForm: true,
            help: "headers sent with every export, such as the collector's credentials"),
        .setting("OTEL_SERVICE_NAME", \.otelServiceName, .text, help: "`service.name` of every span"),
    ]
}

/// One `OTEL_EXPORTER_OTLP_HEADERS` entry.
public struct OTLPHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

// MARK: - Kinds only the catalog uses

extension SettingKind where Value == DatabaseURL {
    /// `postgres://user:password@host:port/database?sslmode=…&host=/socket/dir`.
    static var databaseURL: SettingKind {
        SettingKind(
            accepted: "postgres://user:password@host:port/database, optionally ?sslmode=disable|prefer|require|verify-full (default prefer) "
                + "and ?host=/socket/dir for a unix socket",
            parse: { (raw: String) throws(SettingRejected) -> DatabaseURL in
                do { return try DatabaseURL(raw) } catch { throw SettingRejected() }
            },
            display: { url in
                func encoded(_ s: String, _ allowed: CharacterSet) -> String { s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s }
                var text = "postgres://" + encoded(url.username, .urlUserAllowed)
                if let password = url.password { text += ":" + encoded(password, .urlPasswordAllowed) }
                text += "@\(url.host):\(url.port)/" + encoded(url.database, .urlPathAllowed) + "?sslmode=\(url.sslMode)"
                if let dir = url.socketDirectory { text += "&host=" + encoded(dir, .urlQueryAllowed) }
                return text
            })
    }
}

extension SettingKind where Value == String {
    /// An email address (`name@example.gov.uk`).
    static var emailAddress: SettingKind {
        SettingKind(
            accepted: "an email address",
            parse: { (raw: String) throws(SettingRejected) -> String in
                if let problem = FieldRules.emailProblem(raw) { throw SettingRejected(problem) }
                return raw
            },
            display: { $0 })
    }

    /// A readable file holding a `SecretKey` (base64 of 32 bytes); the key is read again where it is used.
    static var secretKeyFile: SettingKind {
        SettingKind(
            accepted: "the path of a readable file holding base64 of 32 bytes",
            parse: { (raw: String) throws(SettingRejected) -> String in
                do { _ = try SecretKey.load(file: raw) } catch { throw SettingRejected(String(describing: error)) }
                return raw
            },
            display: { $0 })
    }

    /// A GOV.UK Notify API key: `{name}-{service id}-{secret}`, both ids UUIDs.
    static var notifyKey: SettingKind {
        SettingKind(
            accepted: "a GOV.UK Notify API key: {name}-{service id}-{secret}",
            parse: { (raw: String) throws(SettingRejected) -> String in
                let key = raw.trimmingCharacters(in: .whitespacesAndNewlines)
                guard key.count >= 74, UUID(uuidString: String(key.suffix(36))) != nil,
                    UUID(uuidString: String(key.dropLast(37).suffix(36))) != nil
                else { throw SettingRejected() }
                return key
            },
            display: { $0 })
    }
}

extension SettingKind where Value == [OTLPHeader] {
    /// `name=value` pairs separated by commas, values percent-encoded (the OpenTelemetry format).
    static var otlpHeaders: SettingKind {
        SettingKind(
            accepted: "name=value pairs separated by commas, values percent-encoded",
            parse: { (raw: String) throws(SettingRejected) -> [OTLPHeader] in
                var headers: [OTLPHeader] = []
                for pair in raw.split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    let name = parts.first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                    guard parts.count == 2, !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }),
                        let value = parts[1].trimmingCharacters(in: .whitespaces).removingPercentEncoding,
                        !value.contains(where: { $0.isNewline || $0 == "\0" })
                    else { throw SettingRejected() }
                    headers.append(OTLPHeader(name: name, value: value))
                }
                return headers
            },
            display: { headers in
                let allowed = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: ",=&"))
                return headers.map { "\($0.name)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.value)" }
                    .joined(separator: ",")
            })
    }
}

extension SettingKind where Value == [String: String] {
    /// A JSON object of email kind → Notify template id; key `default` for the rest.
    static var notifyTemplates: SettingKind {
        let kinds = Set(EmailKind.allCases.map(\.rawValue) + ["default"])
        return SettingKind(
            accepted: "a JSON object of email kind → Notify template id; key `default` for the rest",
            parse: { (raw: String) throws(SettingRejected) -> [String: String] in
                guard let object = (try? JSONValue.parse(raw))?.objectValue else { throw SettingRejected() }
                let map = object.compactMapValues(\.stringValue)
                guard map.count == object.count else { throw SettingRejected() }
                let unknown = map.keys.filter { !kinds.contains($0) }.sorted()
                guard unknown.isEmpty else {
                    throw SettingRejected(
                        "unknown email kind \(unknown.joined(separator: ", ")); known: \(kinds.sorted().joined(separator: ", "))")
                }
                return map
            },
            display: { map in
                map.isEmpty ? "" : JSONValue.object(map.mapValues(JSONValue.string)).serializedString
            })
    }
}
