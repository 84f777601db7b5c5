import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// The front door: a service team applies for a dashboard by itself. Answers are kept under a
/// session cookie; nothing reaches the team until the applicant confirms their address by an
/// emailed single-use link, when the request is made through the API's own `RequestService`.
public struct ApplyService: Sendable {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    let outbox: EmailOutbox
    let requests: RequestService
    public let settings: FrontDoorSettings

    /// Applications started and emails asked for, per client address an hour.
    public static let clientLimit = RateLimit(bucket: "apply_client", limit: 20, window: 3600)
    /// Emails (confirmation, save and come back later) per address an hour.
    public static let addressLimit = RateLimit(bucket: "apply_address", limit: 5, window: 3600)
    public static let confirmLifetime: TimeInterval = 24 * 3600
    public static let sessionLifetime = TimeInterval(RetentionStore.unconfirmedApplicationDays) * 86_400

    public init(
        db: PostgresClient, time: any TimeSource, logger: Logger, outbox: EmailOutbox, requests: RequestService, settings: FrontDoorSettings
    ) {
        self.db = db
        self.time = time
        self.logger = logger
        self.outbox = outbox
        self.requests = requests
        self.settings = settings
    }

    public enum Failure: Error, Equatable {
        case invalid([FieldError])
        case badCSRF
        /// Steps still to answer before the application can be sent.
        case incomplete([ApplyStep])
    }

    public var teamAddress: String? { outbox.settings.teamAddress }

    // MARK: - Answers

    /// A new application for a new session (the cookie's value is returned, only its hash is stored).
    public func start(client: String) async throws -> (session: String, application: ApplicationRecord) {
        try await RateLimiter(db: db, time: time, logger: logger).countUnknown(Self.clientLimit, value: client)
        let session = NewLink.random()
        let app = try await ApplicationStore.insert(session: session, csrf: NewLink.random(), at: time.now(), on: db, logger: logger)
        return (session, app)
    }

    /// The application a session cookie names, while it may still be changed or confirmed.
    public func application(session: String) async throws -> ApplicationRecord? {
        guard !session.isEmpty else { return nil }
        return try await ApplicationStore.bySession(
            session, startedAfter: time.now().addingTimeInterval(-Self.sessionLifetime), on: db, logger: logger)
    }

    /// Checks and keeps one step's answer. `value`: for `kind` the kind's name, for `organisation`
    /// `{department, division}`, for an item the item's JSON as the API takes it.
    public func answer(_ app: ApplicationRecord, csrf: String, step: ApplyStep, form: [String: String], value: JSONValue) async throws
        -> ApplicationRecord
    {
        try check(app, csrf)
        var answers = app.answers
        var errors = ErrorCollector()
        switch step {
        case .kind:
            guard let kind = value.stringValue.flatMap(RequestKind.init(rawValue:)) else {
                throw Failure.invalid([FieldError(pointer: "/kind", message: "is required")])
            }
            answers["kind"] = .string(kind.rawValue)
        case .organisation:
            if var r = ObjectReader(value, at: "", errors: &errors) {
                let department = r.string("department", required: true, maxLength: 200, singleLine: true)
                let division = r.choice("division", Division.self, required: true)
                errors.add(contentsOf: r.finish())
                if errors.isEmpty {
                    answers["department"] = department.map(JSONValue.string)
                    answers["division"] = division.map { .string($0.rawValue) }
                }
            }
        default:
            let item = step.item!
            let at = "/items/\(item.rawValue)"
            let valid = ItemValidation.validate(item, value, at: at, errors: &errors)
            if item == .contact, let email = valid?.value?["email"]?.stringValue, !ApplyRules.domainAllowed(email, settings.emailDomains) {
                errors.add("\(at)/value/email", Self.domainMessage(settings.emailDomains, team: teamAddress))
            }
            if valid != nil, errors.isEmpty {
                var items = answers["items"]?.objectValue ?? [:]
                items[item.rawValue] = value
                answers["items"] = .object(items)
                answers["skipped"] = .array((answers["skipped"]?.arrayValue ?? []).filter { $0.stringValue != item.rawValue })
            }
        }
        guard errors.isEmpty else { throw Failure.invalid(errors.errors) }
        answers["forms"] = Self.keeping(form, for: step, in: answers)
        answers = try Self.bounded(answers)
        let email = Self.contactEmail(answers) ?? app.email
        try await ApplicationStore.save(app.id, answers: answers, email: email, status: app.status, at: time.now(), on: db, logger: logger)
        var after = app
        after.answers = answers
        after.email = email
        return after
    }

    /// Keeps what a step's form holds, unchecked but bounded (`keeping`), for "save and come back later".
    public func keepDraft(_ app: ApplicationRecord, csrf: String, step: ApplyStep, form: [String: String]) async throws -> ApplicationRecord {
        try check(app, csrf)
        var answers = app.answers
        answers["forms"] = Self.keeping(form, for: step, in: answers)
        answers = try Self.bounded(answers)
        try await ApplicationStore.save(app.id, answers: answers, email: app.email, status: app.status, at: time.now(), on: db, logger: logger)
        var after = app
        after.answers = answers
        return after
    }

    /// Leaves an item the team can chase later unanswered ("I will do this later").
    public func skip(_ app: ApplicationRecord, csrf: String, step: ApplyStep) async throws -> ApplicationRecord {
        try check(app, csrf)
        guard let item = step.item, !step.isRequired else { return app }
        var answers = app.answers
        var items = answers["items"]?.objectValue ?? [:]
        items[item.rawValue] = nil
        answers["items"] = .object(items)
        var skipped = (answers["skipped"]?.arrayValue ?? []).filter { $0.stringValue != item.rawValue }
        skipped.append(.string(item.rawValue))
        answers["skipped"] = .array(skipped)
        try await ApplicationStore.save(app.id, answers: answers, email: app.email, status: app.status, at: time.now(), on: db, logger: logger)
        var after = app
        after.answers = answers
        return after
    }

    // MARK: - Links

    /// Emails a "continue your application" link to `email` (an allowed address).
    public func sendResumeLink(_ app: ApplicationRecord, csrf: String, email: String, client: String) async throws {
        try check(app, csrf)
        if let problem = email.isEmpty ? "is required" : FieldRules.emailProblem(email) {
            throw Failure.invalid([FieldError(pointer: "/email", message: problem)])
        }
        guard ApplyRules.domainAllowed(email, settings.emailDomains) else {
            throw Failure.invalid([FieldError(pointer: "/email", message: Self.domainMessage(settings.emailDomains, team: teamAddress))])
        }
        try await limit(email: email, client: client)
        let now = time.now()
        try await db.transaction(logger: logger) { conn in
            let id = try await ApplicationStore.createLink(
                app.id, purpose: .resume, email: email, at: now, expiresAt: app.createdAt.addingTimeInterval(Self.sessionLifetime), on: conn,
                logger: logger)
            try await outbox.queue(
                .applicationResume, to: email, requestID: nil,
                context: [
                    "link": "\(outbox.settings.baseURL)/apply/resume/\(LinkPlaceholder.text(for: id))",
                    "days": RetentionStore.unconfirmedApplicationDays, "service_name": Self.serviceName(app.answers) ?? "your service",
                ],
                dedupKey: nil, at: now, on: conn, logger: logger)
        }
    }

    /// Sends the application: once every required step is answered, emails the applicant (the
    /// service contact) a single-use link to confirm their address. Sending again sends a new link.
    public func submit(_ app: ApplicationRecord, csrf: String, client: String) async throws -> String {
        try check(app, csrf)
        let missing = Self.unanswered(app.answers).filter(\.isRequired)
        guard missing.isEmpty, let email = Self.contactEmail(app.answers) else { throw Failure.incomplete(missing) }
        try await limit(email: email, client: client)
        let now = time.now()
        try await db.transaction(logger: logger) { conn in
            let id = try await ApplicationStore.createLink(
                app.id, purpose: .confirm, email: email, at: now, expiresAt: now.addingTimeInterval(Self.confirmLifetime), on: conn, logger: logger)
            try await outbox.queue(
                .applicationConfirm, to: email, requestID: nil,
                context: [
                    "link": "\(outbox.settings.baseURL)/apply/confirm/\(LinkPlaceholder.text(for: id))",
                    "service_name": Self.serviceName(app.answers) ?? "your service",
                ], dedupKey: nil, at: now, on: conn, logger: logger)
        }
        try await ApplicationStore.save(app.id, answers: app.answers, email: email, status: .submitted, at: now, on: db, logger: logger)
        return email
    }

    public enum LinkState: Sendable, Equatable {
        case valid(ApplicationLink)
        case used
        case expired
        case unknown
    }

    public func linkState(_ token: String, purpose: ApplicationLink.Purpose) async throws -> LinkState {
        try await db.withConnection { conn in
            guard let link = try await ApplicationStore.link(token, on: conn, logger: logger), link.purpose == purpose else { return .unknown }
            if link.usedAt != nil { return .used }
            return link.expiresAt <= time.now() ? .expired : .valid(link)
        }
    }

    /// The resume link's button: a new session for its application (nil when the link is not valid).
    /// Single use: whoever holds an old link cannot take the application back later.
    public func resume(_ token: String) async throws -> String? {
        guard case .valid(let link) = try await linkState(token, purpose: .resume) else { return nil }
        let session = NewLink.random()
        try await db.transaction(logger: logger) { conn in
            try await ApplicationStore.useLink(link.id, at: time.now(), on: conn, logger: logger)
            try await ApplicationStore.rotateSession(link.applicationID, session: session, at: time.now(), on: conn, logger: logger)
        }
        return session
    }

    public enum Confirmed: Sendable {
        /// The request made from the application.
        case created(RequestRecord)
        /// A request for the same service existed: none was made, and the team was told.
        case duplicate
    }

    /// The confirmation link's button, in one transaction: the link is used, and the request made
    /// (or the duplicate noted) with its emails. nil when the link is not valid.
    public func confirm(_ token: String) async throws -> Confirmed? {
        let now = time.now()
        return try await db.transaction(logger: logger) { conn -> Confirmed? in
            // The application first, then its link: the order the purge takes them in.
            guard let found = try await ApplicationStore.link(token, on: conn, logger: logger),
                try await ApplicationStore.fetch(found.applicationID, lock: true, on: conn, logger: logger) != nil,
                let link = try await ApplicationStore.link(token, lock: true, on: conn, logger: logger), link.purpose == .confirm,
                link.usedAt == nil, link.expiresAt > now,
                let app = try await ApplicationStore.fetch(link.applicationID, lock: false, on: conn, logger: logger),
                app.status == .submitted || app.status == .draft, Self.contactEmail(app.answers) == link.email
            else { return nil }
            try await ApplicationStore.useLink(link.id, at: now, on: conn, logger: logger)
            let answers = app.answers
            let kind = answers["kind"]?.stringValue.flatMap(RequestKind.init(rawValue:)) ?? .nonTransactional
            let items = (answers["items"]?.objectValue ?? [:]).filter { key, _ in
                ItemName(rawValue: key).map(kind.requiredItems.contains) ?? false
            }
            let body = JSONValue.object([
                "kind": .string(kind.rawValue), "department": answers["department"] ?? .null, "division": answers["division"] ?? .null,
                "items": .object(items),
            ])
            let input = try RequestInput.parse(body, creating: true)
            let service = input.items[.service]?.value
            var team: [String: Any] = [
                "service_name": Self.serviceName(answers) ?? "", "department": input.department ?? "",
                "contact_name": input.items[.contact]?.value?["name"]?.stringValue ?? "", "contact_email": link.email,
            ]
            if let existing = try await ApplicationStore.existingRequest(
                startPageURL: service?["start_page_url"]?.stringValue.map(ApplyRules.comparableURL),
                serviceName: service?["name"]?.stringValue ?? "", department: input.department ?? "", on: conn, logger: logger)
            {
                try await ApplicationStore.finish(
                    app.id, status: .duplicate, requestID: nil, duplicateOf: existing.id, at: now, on: conn, logger: logger)
                team["duplicate"] = true
                team["reference"] = existing.reference
                team["link"] = "\(outbox.settings.baseURL)/staff/requests/\(existing.id.lowercasedString)"
                if let to = teamAddress {
                    try await outbox.queue(
                        .newApplication, to: to, requestID: existing.id, context: team,
                        dedupKey: "application:\(app.id.lowercasedString)", at: now, on: conn, logger: logger)
                }
                return .duplicate
            }
            let applicant = Principal(actor: .serviceContact, email: link.email)
            let record = try await requests.create(
                input, assignee: nil, by: applicant, extra: ["via": .string("apply"), "application_id": .string(app.id.lowercasedString)],
                on: conn)
            try await ApplicationStore.finish(app.id, status: .confirmed, requestID: record.id, duplicateOf: nil, at: now, on: conn, logger: logger)
            var context = outbox.baseContext(record)
            context["reference"] = record.reference
            context["contact_name"] = team["contact_name"]
            context["contact_email"] = link.email
            if let owner = record.checklist.signOffEmail,
                (try? await RateLimiter(db: db, time: time, logger: logger).countUnknown(Self.headsUpLimit, value: Self.mailbox(owner))) != nil
            {
                try await outbox.queue(
                    .signOffHeadsUp, to: owner, requestID: record.id, context: context,
                    dedupKey: "\(record.id.lowercasedString):sign_off_heads_up", at: now, on: conn, logger: logger)
            }
            if let to = teamAddress {
                try await outbox.queue(
                    .newApplication, to: to, requestID: record.id, context: context,
                    dedupKey: "\(record.id.lowercasedString):new_application", at: now, on: conn, logger: logger)
            }
            return .created(record)
        }
    }

    // MARK: - Reading answers

    /// Steps of the application's kind not answered yet (skipped items count as answered for later).
    public static func unanswered(_ answers: [String: JSONValue]) -> [ApplyStep] {
        let kind = answers["kind"]?.stringValue.flatMap(RequestKind.init(rawValue:))
        let items = answers["items"]?.objectValue ?? [:]
        let skipped = Set((answers["skipped"]?.arrayValue ?? []).compactMap(\.stringValue))
        return ApplyStep.steps(for: kind).filter { step in
            switch step {
            case .kind: return kind == nil
            case .organisation: return answers["department"] == nil
            default: return items[step.rawValue] == nil && !skipped.contains(step.rawValue)
            }
        }
    }

    public static func contactEmail(_ answers: [String: JSONValue]) -> String? {
        answers["items"]?["contact"]?["value"]?["email"]?.stringValue
    }

    public static func serviceName(_ answers: [String: JSONValue]) -> String? {
        answers["items"]?["service"]?["value"]?["name"]?.stringValue
    }

    static func domainMessage(_ domains: [String], team: String?) -> String {
        let list = domains.count > 1 ? domains.dropLast().joined(separator: ", ") + " or " + domains.last! : domains.first ?? "an allowed domain"
        return "must be a public sector address ending in \(list)" + (team.map { ". If yours is not, email the team at \($0)" } ?? "")
    }

    /// What a step's form is kept as: at most `maxFields` fields of at most `maxValueBytes` each,
    /// without NULs (jsonb refuses them), so an anonymous applicant's row stays small.
    private static func keeping(_ form: [String: String], for step: ApplyStep, in answers: [String: JSONValue]) -> JSONValue {
        var forms = answers["forms"]?.objectValue ?? [:]
        var kept: [String: JSONValue] = [:]
        for (k, v) in form.sorted(by: { $0.key < $1.key }).prefix(maxFields) {
            let clean = v.replacingOccurrences(of: "\u{0}", with: "")
            kept[k] = .string(clean.utf8.count <= maxValueBytes ? clean : String(decoding: Array(clean.utf8.prefix(maxValueBytes)), as: UTF8.self))
        }
        forms[step.rawValue] = .object(kept)
        return .object(forms)
    }

    static let maxFields = 120
    static let maxValueBytes = 5_000
    /// The most an application's answers may hold, serialised.
    static let maxAnswersBytes = 200_000

    /// Refuses answers past `maxAnswersBytes` (a hand-made form; the pages' own never come near).
    private static func bounded(_ answers: [String: JSONValue]) throws -> [String: JSONValue] {
        guard JSONValue.object(answers).serializedString.utf8.count <= maxAnswersBytes else {
            throw Failure.invalid([FieldError(pointer: "", message: "holds more than an application can")])
        }
        return answers
    }

    private func check(_ app: ApplicationRecord, _ csrf: String) throws {
        guard StaffService.constantTimeEquals(Array(csrf.utf8), Array(app.csrf.utf8)) else { throw Failure.badCSRF }
        guard app.status == .draft || app.status == .submitted else { throw Failure.badCSRF }
    }

    private func limit(email: String, client: String) async throws {
        let limiter = RateLimiter(db: db, time: time, logger: logger)
        try await limiter.countUnknown(Self.clientLimit, value: client)
        try await limiter.countUnknown(Self.addressLimit, value: Self.mailbox(email))
    }

    /// The mailbox an address reaches: lower case, without a `+tag` (sub-addresses share a limit).
    static func mailbox(_ email: String) -> String {
        let lower = email.lowercased()
        guard let at = lower.lastIndex(of: "@") else { return lower }
        let local = lower[..<at]
        return String(local.split(separator: "+", maxSplits: 1).first ?? local) + lower[at...]
    }

    /// Heads-ups per sign-off owner a day: a confirmed application names anyone, so this bounds what one applicant can send them.
    public static let headsUpLimit = RateLimit(bucket: "apply_heads_up", limit: 3, window: 86_400)
}
