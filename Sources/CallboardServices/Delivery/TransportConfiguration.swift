import Foundation
import Logging
import NIOCore

/// Chooses and configures the email transport from the environment (documented in the README).
public enum TransportConfiguration {
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) throws -> any EmailTransport {
        func secret(_ name: String) throws -> String? {
            if let file = env[name + "_FILE"], !file.isEmpty {
                do { return try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) } catch {
                    throw Invalid(description: "\(name)_FILE: cannot read \(file)")
                }
            }
            return env[name].flatMap { $0.isEmpty ? nil : $0 }
        }
        switch env["CALLBOARD_EMAIL_TRANSPORT"] ?? "file" {
        case "file":
            return try FileTransport(directory: env["CALLBOARD_EMAIL_DIR"] ?? "var/emails")
        case "smtp":
            guard let host = env["CALLBOARD_SMTP_HOST"], !host.isEmpty else {
                throw Invalid(description: "CALLBOARD_SMTP_HOST is required for the smtp transport")
            }
            guard let security = SMTPSettings.Security(rawValue: env["CALLBOARD_SMTP_SECURITY"] ?? "starttls") else {
                throw Invalid(description: "CALLBOARD_SMTP_SECURITY must be starttls, tls or none")
            }
            let port = env["CALLBOARD_SMTP_PORT"].flatMap(Int.init) ?? (security == .tls ? 465 : 587)
            let timeout = env["CALLBOARD_SMTP_TIMEOUT_SECONDS"].flatMap(Int64.init) ?? 30
            return SMTPTransport(
                settings: SMTPSettings(
                    host: host, port: port, security: security, username: env["CALLBOARD_SMTP_USERNAME"].flatMap { $0.isEmpty ? nil : $0 },
                    password: try secret("CALLBOARD_SMTP_PASSWORD"), caFile: env["CALLBOARD_SMTP_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 },
                    timeout: .seconds(timeout), heloName: env["CALLBOARD_SMTP_HELO"] ?? "callboard.local"), logger: logger)
        case "notify":
            guard let key = try secret("CALLBOARD_NOTIFY_API_KEY"), key.count >= 74 else {
                throw Invalid(description: "CALLBOARD_NOTIFY_API_KEY (or _FILE) must hold a Notify API key: {name}-{service id}-{secret}")
            }
            var templates: [String: String] = [:]
            if let raw = env["CALLBOARD_NOTIFY_TEMPLATES"], !raw.isEmpty {
                guard let map = try? JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: String] else {
                    throw Invalid(description: "CALLBOARD_NOTIFY_TEMPLATES must be a JSON object of email kind → template id")
                }
                templates = map
            }
            return NotifyTransport(
                settings: NotifySettings(
                    baseURL: env["CALLBOARD_NOTIFY_BASE_URL"] ?? "https://api.notifications.service.gov.uk",
                    apiKey: key, templates: templates), logger: logger)
        case let other:
            throw Invalid(description: "CALLBOARD_EMAIL_TRANSPORT must be file, smtp or notify (got \(other))")
        }
    }

    public static func workerSettings(_ env: [String: String] = ProcessInfo.processInfo.environment) -> WorkerSettings {
        var w = WorkerSettings()
        if let v = env["CALLBOARD_WORKER_BATCH"].flatMap(Int.init), v > 0 { w.batchSize = v }
        if let v = env["CALLBOARD_WORKER_CONCURRENCY"].flatMap(Int.init), v > 0 { w.concurrency = v }
        if let v = env["CALLBOARD_EMAIL_LEASE_SECONDS"].flatMap(Double.init), v > 0 { w.leaseSeconds = v }
        if let v = env["CALLBOARD_WORKER_POLL_SECONDS"].flatMap(Double.init), v > 0 { w.pollSeconds = v }
        return w
    }
}
