import CallboardDomain
import Foundation

/// How webhooks are accepted and delivered (`CALLBOARD_SECRET_KEY_FILE`, `CALLBOARD_WEBHOOKS_*`).
public struct WebhookSettings: Sendable {
    /// nil: no webhook can be created, and no worker delivers them.
    public var secretKey: SecretKey?
    /// `http://` targets (local use only).
    public var allowHTTP = false
    /// Private, loopback and link-local targets (tests and local use only).
    public var allowPrivate = false
    /// Each POST's whole time: connecting, sending and the answer.
    public var timeoutSeconds: Double = 10
    /// Longer than a POST can take, so a live worker's lease never runs out.
    public var leaseSeconds: Double = 60
    /// 8 attempts, the delay doubling from 30 s (capped at an hour), full jitter.
    public var retry = RetryPolicy(baseSeconds: 30, capSeconds: 3600, maxAttempts: 8)
    public var batchSize = 16
    public var concurrency = 8
    public var pollSeconds: Double = 2
    public var workerID = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-wh-\(UUID().uuidString.prefix(6))"

    public init(secretKey: SecretKey? = nil, allowHTTP: Bool = false, allowPrivate: Bool = false) {
        self.secretKey = secretKey
        self.allowHTTP = allowHTTP
        self.allowPrivate = allowPrivate
    }

    /// The key file was checked when the settings were read; it is read again here.
    public init(_ settings: Settings) throws {
        self.init(
            secretKey: try settings.secretKeyFile.map { try SecretKey.load(file: $0) }, allowHTTP: settings.webhooksAllowHTTP,
            allowPrivate: settings.webhooksAllowPrivate)
        pollSeconds = settings.workerPollSeconds
    }
}
