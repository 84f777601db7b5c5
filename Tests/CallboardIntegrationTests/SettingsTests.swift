import CallboardDomain
import CallboardServices
import Foundation
import Testing

/// The settings catalog: reading, refusing, redacting and the generated reference. No database.
@Suite struct SettingsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let base = ["DATABASE_URL": "postgres://callboard@127.0.0.1:5432/callboard"]

    /// The problems reading `environment` gives (empty when it reads).
    func problems(_ environment: [String: String], overrides: [String: String] = [:]) -> [SettingProblem] {
        do {
            _ = try Settings(environment: environment, overrides: overrides)
            return []
        } catch {
            return error.problems
        }
    }

    @Test func theReferenceIsTheCatalog() throws {
        let committed = try String(contentsOf: Self.root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        #expect(committed == Settings.markdownReference(), "regenerate with: callboard config docs > docs/configuration.md")
        #expect(Settings.markdownReference().split(separator: "\n").filter { $0.hasPrefix("| `") }.count == Settings.catalog.count)
    }

    @Test func everySettingIsNamedOnce() {
        let names = Settings.catalog.map(\.definition.name)
        #expect(Set(names).count == names.count)
    }

    @Test func theDefaultsRead() throws {
        let s = try Settings(environment: Self.base)
        #expect(s.port == 8080 && s.hostname == "127.0.0.1" && !s.withWorker && s.logLevel == .info && s.logFormat == .json)
        #expect(s.databaseURL?.database == "callboard")
        #expect(s.source(of: "CALLBOARD_PORT") == .default && s.source(of: "DATABASE_URL") == .environment)
    }

    @Test func everyProblemIsReportedTogether() {
        var env = Self.base
        env["CALLBOARD_PORT"] = "abc"
        env["CALLBOARD_WITH_WORKER"] = "maybe"
        env["CALLBOARD_LOG_LEVEL"] = "loud"
        let found = problems(env)
        #expect(found.map(\.name) == ["CALLBOARD_PORT", "CALLBOARD_WITH_WORKER", "CALLBOARD_LOG_LEVEL"])
        let message = SettingsError(problems: found).description
        #expect(message.hasPrefix("invalid configuration (3 problems):"))
        #expect(message.contains("CALLBOARD_PORT: \"abc\" is not accepted; expected a whole number from 1 to 65535"))
        #expect(message.contains("CALLBOARD_WITH_WORKER: \"maybe\" is not accepted; expected true/false, 1/0, yes/no, on/off"))
        #expect(message.contains("CALLBOARD_LOG_LEVEL: \"loud\" is not accepted; expected trace, debug, info, notice, warning, error or critical"))
    }

    @Test func booleansAcceptTheUsualWords() throws {
        for (raw, value) in [("1", true), ("TRUE", true), ("yes", true), ("On", true), ("0", false), ("false", false), ("NO", false), ("off", false)]
        {
            var env = Self.base
            env["CALLBOARD_WITH_WORKER"] = raw
            #expect(try Settings(environment: env).withWorker == value, "\(raw)")
        }
        #expect(problems(Self.base.merging(["CALLBOARD_MIGRATE_ON_START": "y"]) { $1 }).map(\.name) == ["CALLBOARD_MIGRATE_ON_START"])
    }

    @Test func rangesEnumsURLsAndListsAreChecked() {
        let bad = [
            "CALLBOARD_PORT": "70000", "CALLBOARD_DB_POOL_SIZE": "0", "CALLBOARD_LOG_FORMAT": "xml", "CALLBOARD_EMAIL_TRANSPORT": "pigeon",
            "CALLBOARD_SMTP_SECURITY": "ssl", "CALLBOARD_BASE_URL": "ftp://example.com", "CALLBOARD_NOTIFY_BASE_URL": "not a url",
            "CALLBOARD_SCHEDULER_BATCH": "2001", "CALLBOARD_REMINDER_WINDOW": "17:00-09:30", "CALLBOARD_REMINDER_UPLOAD": "3,1,5",
            "CALLBOARD_REMINDER_SIGN_OFF": "3,0,3", "CALLBOARD_WORKER_POLL_SECONDS": "0", "CALLBOARD_TEAM_EMAIL": "team",
            "CALLBOARD_NOTIFY_TEMPLATES": #"{"nonsense": "x"}"#,
        ]
        #expect(Set(problems(Self.base.merging(bad) { $1 }).map(\.name)) == Set(bad.keys))
    }

    @Test func anEmptyVariableIsUnsetExceptWhereEmptyMeansOff() throws {
        let s = try Settings(environment: Self.base.merging(["CALLBOARD_PORT": "", "CALLBOARD_TEAM_EMAIL": ""]) { $1 })
        #expect(s.port == 8080)
        #expect(s.teamEmail == nil)
    }

    @Test func flagsOverrideTheEnvironmentAndAreChecked() throws {
        let s = try Settings(environment: Self.base.merging(["CALLBOARD_PORT": "9000"]) { $1 }, overrides: ["CALLBOARD_PORT": "9100"])
        #expect(s.port == 9100 && s.source(of: "CALLBOARD_PORT") == .flag)
        #expect(problems(Self.base, overrides: ["CALLBOARD_PORT": "0"]).map(\.name) == ["CALLBOARD_PORT"])
        #expect(problems([:], overrides: ["DATABASE_URL": "postgres://x@db/x"]).isEmpty)
    }

    @Test func transportsNeedWhatTheyUse() {
        #expect(problems(Self.base.merging(["CALLBOARD_EMAIL_TRANSPORT": "smtp"]) { $1 }).map(\.name) == ["CALLBOARD_SMTP_HOST"])
        #expect(problems(Self.base.merging(["CALLBOARD_EMAIL_TRANSPORT": "notify"]) { $1 }).map(\.name) == ["CALLBOARD_NOTIFY_API_KEY"])
        #expect(problems([:]).map(\.name) == ["DATABASE_URL"])
    }

    @Test func secretsComeFromFiles() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("database-url-\(UUID())")
        try "postgres://app:s3cret@db.example:5433/app?sslmode=require\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let s = try Settings(environment: ["DATABASE_URL_FILE": file.path])
        #expect(s.databaseURL?.password == "s3cret" && s.databaseURL?.port == 5433 && s.databaseURL?.sslMode == "require")
        #expect(s.source(of: "DATABASE_URL") == .file)

        let missing = problems(["DATABASE_URL_FILE": "/nonexistent/callboard-\(UUID())"])
        #expect(missing.count == 1 && missing.first?.name == "DATABASE_URL_FILE")
        #expect(missing.first?.message.hasPrefix("cannot read /nonexistent/") == true)
        #expect(problems(["DATABASE_URL": "postgres://x@db/x", "DATABASE_URL_FILE": file.path]).map(\.name) == ["DATABASE_URL"])
    }

    @Test func checkOutputRedactsSecrets() throws {
        let key = "callboard_test-\(UUID().uuidString.lowercased())-\(UUID().uuidString.lowercased())"
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("notify-key-\(UUID())")
        try key.write(to: keyFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: keyFile) }
        let s = try Settings(environment: [
            "DATABASE_URL": "postgres://callboard:change-me@db.example:5432/callboard?sslmode=require",
            "CALLBOARD_EMAIL_TRANSPORT": "notify", "CALLBOARD_NOTIFY_API_KEY_FILE": keyFile.path,
            "CALLBOARD_SMTP_PASSWORD": "hunter2", "CALLBOARD_WITH_WORKER": "1",
        ])
        let lines = s.effectiveLines()
        #expect(lines.count == Settings.catalog.count)
        for line in [
            "DATABASE_URL=postgres://callboard:<redacted>@db.example:5432/callboard?sslmode=require  (environment)",
            "CALLBOARD_NOTIFY_API_KEY=<redacted>  (file)",
            "CALLBOARD_SMTP_PASSWORD=<redacted>  (environment)",
            "CALLBOARD_SMTP_USERNAME=  (default)",
            "CALLBOARD_WITH_WORKER=true  (environment)",
            "CALLBOARD_EMAIL_TRANSPORT=notify  (environment)",
            "CALLBOARD_PORT=8080  (default)",
        ] {
            #expect(lines.contains(line), "\(line)")
        }
        #expect(!lines.joined().contains("change-me") && !lines.joined().contains("hunter2") && !lines.joined().contains(key))

        // Nor do refusals show them.
        let refused = SettingsError(
            problems: problems([
                "DATABASE_URL": "mysql://callboard:change-me@db/x", "CALLBOARD_EMAIL_TRANSPORT": "notify", "CALLBOARD_NOTIFY_API_KEY": "hunter2",
            ])
        ).description
        #expect(refused.contains("DATABASE_URL: \"mysql://callboard:<redacted>@db/x\" is not accepted"))
        #expect(refused.contains("CALLBOARD_NOTIFY_API_KEY: \"<redacted>\" is not accepted"))
        #expect(!refused.contains("change-me") && !refused.contains("hunter2"))
    }

    @Test func theServicesSettingsAreBuiltFromSettings() throws {
        let s = try Settings(
            environment: Self.base.merging([
                "CALLBOARD_BASE_URL": "https://callboard.example.gov.uk/", "CALLBOARD_EMAIL_MAX_ATTEMPTS": "3", "CALLBOARD_WORKER_BATCH": "7",
                "CALLBOARD_REMINDER_WINDOW": "08:00-18:30", "CALLBOARD_REMINDER_UPLOAD": "4,2,6,1",
                "CALLBOARD_EMAIL_TRANSPORT": "smtp", "CALLBOARD_SMTP_HOST": "relay", "CALLBOARD_SMTP_SECURITY": "TLS",
            ]) { $1 })
        let email = EmailSettings(s)
        #expect(email.baseURL == "https://callboard.example.gov.uk" && email.retry.maxAttempts == 3)
        #expect(WorkerSettings(s).batchSize == 7)
        let scheduler = SchedulerSettings(s)
        #expect(scheduler.rules.windowStartMinute == 8 * 60 && scheduler.rules.windowEndMinute == 18 * 60 + 30)
        #expect(scheduler.rules.uploadDueSoonBefore == 4 && scheduler.rules.uploadEscalateAfterOverdue == 1)
        #expect(SchedulerSettings(Settings()) == SchedulerSettings())
        let smtp = SMTPSettings(s, host: "relay")
        #expect(smtp.port == 465 && smtp.security == .tls)
    }
}
