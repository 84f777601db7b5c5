import Foundation
import Logging
import NIOCore

/// Builds the email transport `Settings` chooses (`CALLBOARD_EMAIL_TRANSPORT`; see docs/configuration.md).
public enum TransportConfiguration {
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// The transport `settings` chooses. Settings read from the environment were checked already;
    /// this refuses only settings built by hand that lack what their transport needs.
    public static func transport(_ settings: Settings, logger: Logger) throws -> any EmailTransport {
        switch settings.emailTransport {
        case .file:
            return try FileTransport(directory: settings.emailDirectory, threads: min(64, settings.workerConcurrency * settings.workerLoops))
        case .smtp:
            guard let host = settings.smtpHost else {
                throw Invalid(description: "CALLBOARD_SMTP_HOST is required for the smtp transport")
            }
            return SMTPTransport(settings: SMTPSettings(settings, host: host), logger: logger)
        case .notify:
            guard let key = settings.notifyAPIKey else {
                throw Invalid(description: "CALLBOARD_NOTIFY_API_KEY (or _FILE) is required for the notify transport")
            }
            return NotifyTransport(
                settings: NotifySettings(baseURL: settings.notifyBaseURL, apiKey: key, templates: settings.notifyTemplates), logger: logger)
        }
    }
}

extension SMTPSettings {
    /// The SMTP settings in `settings`, for the relay at `host`.
    public init(_ settings: Settings, host: String) {
        self.init(
            host: host, port: settings.smtpPort ?? (settings.smtpSecurity == .tls ? 465 : 587), security: settings.smtpSecurity,
            username: settings.smtpUsername, password: settings.smtpPassword, caFile: settings.smtpCAFile,
            timeout: .seconds(Int64(settings.smtpTimeoutSeconds)), heloName: settings.smtpHelo)
    }
}

extension WorkerSettings {
    /// The email worker's settings in `settings`.
    public init(_ settings: Settings) {
        self.init()
        batchSize = settings.workerBatch
        concurrency = settings.workerConcurrency
        loops = settings.workerLoops
        leaseSeconds = settings.emailLeaseSeconds
        pollSeconds = settings.workerPollSeconds
    }
}
