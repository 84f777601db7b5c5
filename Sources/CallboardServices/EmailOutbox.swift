import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// Email configuration, built from `Settings`, with local defaults.
public struct EmailSettings: Sendable {
    public var from: String
    public var teamAddress: String?
    /// Public address of this Callboard, for links in emails.
    public var baseURL: String
    /// Right-hand side of every Message-ID.
    public var messageDomain: String
    public var retry: RetryPolicy
    /// Emailed sign-off links last to the end of this many working days.
    public var signOffLinkWorkingDays = 5
    /// Emailed service-contact links last this many days.
    public var contactLinkDays = 30

    public init(
        from: String = "GOV.UK Performance Platform <performance-platform@localhost.localdomain>",
        teamAddress: String? = "performance-platform@localhost.localdomain",
        baseURL: String = "http://127.0.0.1:8080", messageDomain: String = "callboard.local", retry: RetryPolicy = RetryPolicy()
    ) {
        self.from = from
        self.teamAddress = teamAddress
        self.baseURL = baseURL
        self.messageDomain = messageDomain
        self.retry = retry
    }

    /// The email settings in `settings`.
    public init(_ settings: Settings) {
        self.init(
            from: settings.emailFrom, teamAddress: settings.teamEmail, baseURL: settings.baseURL, messageDomain: settings.messageIDDomain,
            retry: RetryPolicy(baseSeconds: settings.emailRetryBaseSeconds, maxAttempts: settings.emailMaxAttempts))
        signOffLinkWorkingDays = settings.signOffLinkWorkingDays
        contactLinkDays = settings.contactLinkDays
    }
}

/// The Mustache templates shipped with the program: `<kind>.subject`, `<kind>.text`, `<kind>.html`.
public struct EmailTemplates: Sendable {
    let library: TemplateLibrary

    public static func bundled() throws -> EmailTemplates {
        guard let dir = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            throw MigrationError.missingBundle
        }
        let library = try TemplateLibrary(directory: dir)
        let names = library.names
        for kind in EmailKind.allCases {
            for part in ["subject", "text", "html"] where !names.contains("\(kind.rawValue).\(part)") {
                throw TemplateMissing(name: "\(kind.rawValue).\(part)")
            }
        }
        return EmailTemplates(library: library)
    }

    struct TemplateMissing: Error { var name: String }

    /// A rendered subject as one line: trimmed of white space, newlines inside made spaces.
    static func oneLine(_ text: String) -> String {
        let trimmed = text.trimmedOfWhitespace
        return trimmed.utf8.contains(UInt8(ascii: "\n")) ? trimmed.replacingOccurrences(of: "\n", with: " ") : trimmed
    }

    public func render(_ kind: EmailKind, _ context: [String: Any]) -> (subject: String, text: String, html: String) {
        render(kind, TemplateValue.context(context))
    }

    /// The subject first: the text and HTML bodies show it as `{{subject}}`.
    func render(_ kind: EmailKind, _ context: TemplateValue) -> (subject: String, text: String, html: String) {
        let subject = Self.oneLine(library.render(context, withTemplate: "\(kind.rawValue).subject") ?? kind.rawValue)
        guard case .object(var fields) = context else { return (subject, "", "") }
        fields["subject"] = .text(subject)
        return (
            subject, library.render(.object(fields), withTemplate: "\(kind.rawValue).text") ?? "",
            library.render(.object(fields), withTemplate: "\(kind.rawValue).html") ?? ""
        )
    }
}

/// Queues emails inside the caller's transaction: the one way anything sends email.
public struct EmailOutbox: Sendable {
    public let settings: EmailSettings
    let templates: EmailTemplates

    public init(settings: EmailSettings, templates: EmailTemplates) {
        self.settings = settings
        self.templates = templates
    }

    /// The emails a fired transition owes, rendered, with dedup keys unique to this firing.
    /// The request store queues them in the statement that writes the transition.
    /// `links` holds the page link for an audience when it has its own (the sign-off owner's).
    func drafts(for plan: TransitionPlan, record: RequestRecord, links: [Audience: String] = [:], at now: Date) -> [NewEmail] {
        let arguments = plan.arguments
        return plan.emails.compactMap { intent in
            guard let to = Notifications.recipient(intent.audience, checklist: record.checklist, teamAddress: settings.teamAddress) else {
                return nil
            }
            var context = baseContext(record)
            if let l = links[intent.audience] { context["link"] = l }
            if let r = arguments.reason { context["reason"] = r }
            context["approved"] = record.signOffDecision == .approved
            return draft(
                intent.kind, to: to, requestID: record.id, context: context,
                dedupKey: "\(record.id.lowercasedString):v\(record.version):\(intent.kind.rawValue):\(intent.audience.rawValue)",
                runAt: now)
        }
    }

    func draft(_ kind: EmailKind, to recipient: String, requestID: UUID?, context: [String: Any], dedupKey: String?, runAt: Date) -> NewEmail {
        draft(kind, to: recipient, requestID: requestID, values: TemplateValue.context(context), dedupKey: dedupKey, runAt: runAt)
    }

    /// `values` is the context as the templates see it (the scheduler builds its digests so).
    func draft(_ kind: EmailKind, to recipient: String, requestID: UUID?, values: TemplateValue, dedupKey: String?, runAt: Date) -> NewEmail {
        let context = Self.neutralisePlaceholders(values)
        let rendered = templates.render(kind, context)
        var data: [String: JSONValue] = [:]
        if case .object(let fields) = context {
            for (k, v) in fields {
                switch v {
                case .text(let s): data[k] = .string(s)
                case .flag(let b): data[k] = .bool(b)
                default: break
                }
            }
        }
        data["subject"] = .string(rendered.subject)
        return NewEmail(
            requestID: requestID, kind: kind.rawValue, recipient: recipient, subject: rendered.subject, bodyText: rendered.text,
            bodyHTML: rendered.html, templateData: .object(data), dedupKey: dedupKey, runAt: runAt,
            maxAttempts: settings.retry.maxAttempts, messageDomain: settings.messageDomain)
    }

    /// Only the links this program puts in an email (values under the key `link`) may carry a
    /// link placeholder: in every other text (a service name, a reason, a preview URL — things
    /// people type) `cblink_` is broken up, so the worker never mints a token where a person chose.
    static func neutralisePlaceholders(_ value: TemplateValue, key: String? = nil) -> TemplateValue {
        guard holdsPlaceholderPrefix(value, key: key) else { return value }  // most contexts: no copy
        return switch value {
        case .text(let s): key == "link" ? value : .text(LinkPlaceholder.neutralise(s))
        case .flag: value
        case .list(let items): .list(items.map { neutralisePlaceholders($0) })
        case .object(let fields): .object(Dictionary(uniqueKeysWithValues: fields.map { ($0.key, neutralisePlaceholders($0.value, key: $0.key)) }))
        }
    }

    static func holdsPlaceholderPrefix(_ value: TemplateValue, key: String?) -> Bool {
        switch value {
        case .text(let s): key != "link" && LinkPlaceholder.holdsPrefix(s)
        case .flag: false
        case .list(let items): items.contains { holdsPlaceholderPrefix($0, key: nil) }
        case .object(let fields): fields.contains { holdsPlaceholderPrefix($0.value, key: $0.key) }
        }
    }

    @discardableResult
    public func queue(
        _ kind: EmailKind, to recipient: String, requestID: UUID?, context: [String: Any], dedupKey: String?,
        runAt: Date? = nil, at now: Date, on conn: PostgresConnection, logger: Logger
    ) async throws -> EmailStatus? {
        try await EmailStore.enqueue(
            draft(kind, to: recipient, requestID: requestID, context: context, dedupKey: dedupKey, runAt: runAt ?? now),
            at: now, on: conn, logger: logger)
    }

    /// A sign-off link for the request's sign-off owner, lasting `signOffLinkWorkingDays` working days.
    func signOffLink(_ r: RequestRecord, calendar: WorkingCalendar, at now: Date) -> NewLink? {
        guard let owner = r.checklist.signOffEmail else { return nil }
        let lastDay = calendar.adding(workingDays: settings.signOffLinkWorkingDays, to: London.date(of: now)).date
        return NewLink(
            purpose: .signOff, requestID: r.id, email: owner, requestVersion: r.version, at: now,
            expiresAt: London.instant(lastDay.adding(days: 1)))
    }

    /// A task-list link for the request's service contact, lasting `contactLinkDays` days.
    func contactLink(_ r: RequestRecord, at now: Date) -> NewLink? {
        guard let contact = r.checklist.contactEmail else { return nil }
        return NewLink(
            purpose: .contact, requestID: r.id, email: contact, requestVersion: r.version, at: now,
            expiresAt: now.addingTimeInterval(Double(settings.contactLinkDays) * 86_400))
    }

    /// An upload link for one of a data set's uploaders (or anyone told about an upload), lasting `contactLinkDays` days.
    func uploadLink(_ d: DataSetRecord, to email: String, at now: Date) -> NewLink {
        NewLink(
            purpose: .upload, requestID: d.requestID, email: email, requestVersion: 0, at: now,
            expiresAt: now.addingTimeInterval(Double(settings.contactLinkDays) * 86_400), dataSetID: d.id)
    }

    /// The page a link opens.
    func url(_ link: NewLink) -> String {
        let page =
            switch link.record.purpose {
            case .signOff: "sign-off"
            case .contact: "tasks"
            case .upload: "upload"
            }
        return "\(settings.baseURL)/\(page)/\(link.placeholder)"
    }

    /// The link of their own that the people an email of `kind` goes to get: the sign-off owner
    /// to decide, the service contact to give information.
    func pageLinks(for kind: EmailKind?, _ r: RequestRecord, calendar: WorkingCalendar, at now: Date) -> [Audience: NewLink] {
        switch kind {
        case .signOffRequest: return signOffLink(r, calendar: calendar, at: now).map { [.signOffOwner: $0] } ?? [:]
        case .informationReopened, .informationRequest: return contactLink(r, at: now).map { [.serviceContact: $0] } ?? [:]
        default: return [:]
        }
    }

    func baseContext(_ r: RequestRecord) -> [String: Any] {
        var c: [String: Any] = [
            "service_name": r.checklist.serviceName ?? "your service",
            "department": r.department,
            "request_id": r.id.lowercasedString,
            // The team's page of the request; people with links of their own get those instead.
            "link": "\(settings.baseURL)/staff/requests/\(r.id.lowercasedString)",
        ]
        if let p = r.previewURL { c["preview_url"] = p }
        if let l = r.liveURL { c["live_url"] = l }
        return c
    }
}
