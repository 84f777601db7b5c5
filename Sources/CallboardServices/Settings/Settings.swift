import CallboardStorage
import Foundation
import Logging

/// `CALLBOARD_LOG_FORMAT`.
public enum LogFormat: String, CaseIterable, Sendable {
    /// One JSON object per line.
    case json
    /// Lines for people.
    case text
}

/// `CALLBOARD_EMAIL_TRANSPORT`.
public enum EmailTransportKind: String, CaseIterable, Sendable {
    case file, smtp, notify
}

/// `OTEL_TRACES_EXPORTER`.
public enum TracesExporter: String, CaseIterable, Sendable {
    case none, otlp
}

/// `OTEL_EXPORTER_OTLP_PROTOCOL`: only the HTTP ones are built in (the gRPC exporter is not).
public enum OTLPProtocol: String, CaseIterable, Sendable {
    case httpProtobuf = "http/protobuf"
    case httpJSON = "http/json"
}

/// Where a setting's value came from.
public enum SettingSource: String, Sendable {
    case `default`, environment, file, flag
}

/// Every setting, typed, read once from the environment (and the flags that override it). The
/// catalog (`Settings+Catalog.swift`) says which variable fills which field; each field's initial
/// value is its default. Reading collects every problem and throws them together.
public struct Settings: Sendable {
    // Database and server
    public var databaseURL: DatabaseURL?
    public var databasePoolSize = 20
    public var hostname = "127.0.0.1"
    public var port = 8080
    public var metricsHostname = "127.0.0.1"
    /// 0: no metrics listener.
    public var metricsPort = 9090
    public var httpIdleTimeoutSeconds = 30
    public var requestTimeoutSeconds = 15
    /// The write API's largest body, compressed and decompressed alike (10 MB).
    public var writeAPIMaxBytes = 10_485_760
    public var migrateOnStart = false
    public var withWorker = false
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .json
    // Links and promises
    public var baseURL = "http://127.0.0.1:8080"
    public var signOffLinkWorkingDays = 5
    public var contactLinkDays = 30
    // The front door
    public var applyEmailDomains = FrontDoorSettings().emailDomains
    public var trustedProxies: [String] = []
    public var previewSLAWorkingDays = 5
    // Email
    public var emailFrom = "GOV.UK Performance Platform <performance-platform@localhost.localdomain>"
    /// nil: no team notifications.
    public var teamEmail: String? = "performance-platform@localhost.localdomain"
    public var messageIDDomain = "callboard.local"
    public var emailTransport: EmailTransportKind = .file
    public var emailDirectory = "var/emails"
    public var smtpHost: String?
    /// nil: 587, or 465 for `tls`.
    public var smtpPort: Int?
    public var smtpSecurity: SMTPSettings.Security = .starttls
    public var smtpUsername: String?
    public var smtpPassword: String?
    /// nil: the system's CAs.
    public var smtpCAFile: String?
    public var smtpTimeoutSeconds = 30
    public var smtpHelo = "callboard.local"
    public var notifyAPIKey: String?
    public var notifyTemplates: [String: String] = [:]
    public var notifyBaseURL = "https://api.notifications.service.gov.uk"
    public var emailMaxAttempts = 8
    public var emailRetryBaseSeconds: Double = 30
    // Email worker
    public var workerBatch = 32
    public var workerConcurrency = 16
    public var workerLoops = 2
    public var emailLeaseSeconds: Double = 30
    public var workerPollSeconds: Double = 2
    // Reminder scheduler
    public var schedulerIntervalSeconds: Double = 60
    public var schedulerBatch = 500
    /// Minutes after midnight, London time.
    public var reminderWindow = (9 * 60 + 30)..<(17 * 60)
    /// First chase after, between chases, chases before one escalation (working days).
    public var reminderMissingInformation = [2, 5, 3]
    /// The same for the sign-off owner.
    public var reminderSignOff = [3, 5, 3]
    /// Due-soon before, first overdue after, then every, overdue reminders before escalating.
    public var reminderUpload = [3, 1, 5, 2]
    public var productAuditWorkingDays = 30
    // Retention job
    public var retentionIntervalSeconds: Double = 3600
    public var retentionBatch = 1000
    public var linkRetentionDays = 30
    public var sessionRetentionDays = 30
    public var idempotencyRetentionHours = 24
    public var emailBodyRetentionDays = 90
    // Webhooks and secrets
    /// nil: no key, so no webhook can be created (and the webhook worker does not run).
    public var secretKeyFile: String?
    public var webhooksAllowHTTP = false
    public var webhooksAllowPrivate = false
    // Tracing: the standard OpenTelemetry variables (only those read here have any effect)
    /// nil: `otlp` when an OTLP endpoint is set, otherwise none.
    public var tracesExporter: TracesExporter?
    /// nil: http://localhost:4318.
    public var otlpEndpoint: String?
    /// nil: `otlpEndpoint` + `/v1/traces`.
    public var otlpTracesEndpoint: String?
    public var otlpProtocol: OTLPProtocol = .httpProtobuf
    public var otlpHeaders: [OTLPHeader] = []
    public var otelServiceName = "callboard"

    /// Whether `serve` and `worker` export traces: `OTEL_TRACES_EXPORTER=otlp`, or an OTLP endpoint set
    /// and `OTEL_TRACES_EXPORTER` not set.
    public var tracingEnabled: Bool {
        (tracesExporter ?? (otlpEndpoint != nil || otlpTracesEndpoint != nil ? .otlp : .none)) == .otlp
    }

    /// Where spans go: the traces endpoint as it is, else the OTLP endpoint's `/v1/traces`.
    public var otlpTracesURL: String { otlpTracesEndpoint ?? (otlpEndpoint ?? "http://localhost:4318") + "/v1/traces" }

    /// Where each value came from, by variable name; absent means the default.
    public private(set) var sources: [String: SettingSource] = [:]

    /// Every default (tests; nothing read).
    public init() {}

    /// Reads every setting in the catalog from `environment`, with `overrides` (from flags, by
    /// variable name) winning. Throws a `SettingsError` listing every problem found.
    public init(environment: [String: String], overrides: [String: String] = [:]) throws(SettingsError) {
        var problems: [SettingProblem] = []
        for entry in Self.catalog {
            let d = entry.definition
            switch Self.lookup(d, environment: environment, overrides: overrides, problems: &problems) {
            case .missing:
                if d.isRequired { problems.append(SettingProblem(name: d.name, message: "not set; expected \(d.accepted)")) }
            case .reported:
                break
            case .found(let raw, let source):
                do throws(SettingRejected) {
                    try entry.apply(&self, raw)
                    sources[d.name] = source
                } catch {
                    let value: String
                    switch source {
                    case .file: value = "the value in \(d.fileName)"
                    case .flag: value = "\"\(d.shown(raw))\" (from \(d.flag ?? "a flag"))"
                    default: value = "\"\(d.shown(raw))\""
                    }
                    problems.append(
                        SettingProblem(
                            name: d.name, message: "\(value) is not accepted; expected \(d.accepted)" + (error.detail.map { " (\($0))" } ?? "")))
                }
            }
        }
        problems += crossCheck()
        if !problems.isEmpty { throw SettingsError(problems: problems) }
    }

    /// Settings that depend on each other.
    private func crossCheck() -> [SettingProblem] {
        var problems: [SettingProblem] = []
        if emailTransport == .smtp, smtpHost == nil {
            problems.append(SettingProblem(name: "CALLBOARD_SMTP_HOST", message: "required when CALLBOARD_EMAIL_TRANSPORT=smtp"))
        }
        if emailTransport == .notify, notifyAPIKey == nil {
            problems.append(
                SettingProblem(
                    name: "CALLBOARD_NOTIFY_API_KEY", message: "required (or CALLBOARD_NOTIFY_API_KEY_FILE) when CALLBOARD_EMAIL_TRANSPORT=notify"))
        }
        return problems
    }

    private enum Lookup {
        case missing
        /// A problem was recorded already.
        case reported
        case found(String, SettingSource)
    }

    private static func lookup(
        _ d: SettingDefinition, environment: [String: String], overrides: [String: String], problems: inout [SettingProblem]
    ) -> Lookup {
        func present(_ v: String?) -> String? {
            guard let v else { return nil }
            return v.isEmpty && !d.emptyIsValue ? nil : v
        }
        if let v = present(overrides[d.name]) { return .found(v, .flag) }
        let direct = present(environment[d.name])
        let path = d.hasFileForm ? environment[d.fileName].flatMap { $0.isEmpty ? nil : $0 } : nil
        switch (direct, path) {
        case (.some, .some):
            problems.append(SettingProblem(name: d.name, message: "set either \(d.name) or \(d.fileName), not both"))
            return .reported
        case (_, .some(let path)):
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                problems.append(SettingProblem(name: d.fileName, message: "cannot read \(path)"))
                return .reported
            }
            return .found(contents.trimmingCharacters(in: .whitespacesAndNewlines), .file)
        case (.some(let v), nil):
            return .found(v, .environment)
        case (nil, nil):
            return .missing
        }
    }

    /// Where the named setting's value came from.
    public func source(of name: String) -> SettingSource { sources[name] ?? .default }

    /// `callboard config check`: every setting's effective value, one per line, secrets redacted:
    /// `NAME=value  (default|environment|file|flag)`.
    public func effectiveLines() -> [String] {
        Self.catalog.map { entry in
            "\(entry.definition.name)=\(entry.definition.shown(entry.display(self)))  (\(source(of: entry.definition.name).rawValue))"
        }
    }

    /// `callboard config docs`: the Markdown configuration reference (docs/configuration.md).
    public static func markdownReference() -> String {
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        var lines = [
            "# Configuration",
            "",
            "Generated by `callboard config docs` from `Sources/CallboardServices/Settings/Settings+Catalog.swift`; do not edit by hand.",
            "",
            "Every setting comes from the environment; a flag, where one is listed, overrides it. A variable that is set but empty counts as",
            "unset. Secrets can instead be read from a file named by the `_FILE` variable (setting both is an error). Every command reads",
            "the settings once at start-up and refuses to start, listing every problem, when any is invalid. `callboard config check`",
            "validates the environment and prints each effective value and where it came from, with secrets redacted.",
            "",
            "| variable | default | accepted values | meaning |",
            "|---|---|---|---|",
        ]
        for entry in catalog {
            let d = entry.definition
            var names = "`\(d.name)`"
            if d.hasFileForm { names += " (or `\(d.fileName)`)" }
            if let flag = d.flag { names += ", `\(flag)`" }
            let meaning = d.help + (d.isSecret ? " (secret: never shown)" : "")
            let defaultText = d.defaultIsValue ? "`\(cell(d.defaultText))`" : cell(d.defaultText)
            lines.append("| \(names) | \(defaultText) | \(cell(d.accepted)) | \(cell(meaning)) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// One thing wrong with the settings.
public struct SettingProblem: Sendable, Equatable, CustomStringConvertible {
    /// The variable at fault.
    public var name: String
    public var message: String

    public init(name: String, message: String) {
        self.name = name
        self.message = message
    }

    public var description: String { "\(name): \(message)" }
}

/// Every problem found reading the settings.
public struct SettingsError: Error, Sendable, CustomStringConvertible {
    public var problems: [SettingProblem]

    public init(problems: [SettingProblem]) { self.problems = problems }

    public var description: String {
        "invalid configuration (\(problems.count) \(problems.count == 1 ? "problem" : "problems")):\n"
            + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
