import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// Delivers the webhook outbox beside the email worker: claims due deliveries (FOR UPDATE SKIP
/// LOCKED, with a lease longer than any POST), signs and sends each, and records every attempt,
/// fenced by its number. Retries with capped exponential backoff and full jitter until the budget
/// is spent (then `dead`); a 410 Gone disables the subscription. A worker killed mid-send loses
/// nothing: its lease runs out and another worker sends the delivery again, with the same id.
public struct WebhookWorker: Service {
    let db: PostgresClient
    let listenURL: DatabaseURL?
    let settings: WebhookSettings
    let key: SecretKey
    let time: any TimeSource
    let logger: Logger
    let random: @Sendable () -> Double
    let sender: WebhookSender

    public init(
        db: PostgresClient, listenURL: DatabaseURL?, settings: WebhookSettings, key: SecretKey, time: any TimeSource = SystemTime(),
        logger: Logger, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.db = db
        self.listenURL = listenURL
        self.settings = settings
        self.key = key
        self.time = time
        self.logger = logger
        self.random = random
        sender = WebhookSender(allowPrivate: settings.allowPrivate, timeoutSeconds: settings.timeoutSeconds)
    }

    public func run() async throws {
        let doorbell = Doorbell()
        logger.info("webhook worker started", metadata: ["worker": .string(settings.workerID)])
        await withDiscardingTaskGroup { group in
            if let url = listenURL {
                group.addTask { await listen(url, doorbell: doorbell) }
            }
            await cancelWhenGracefulShutdown { await loop(doorbell) }
            group.cancelAll()
        }
        logger.info("webhook worker stopped", metadata: ["worker": .string(settings.workerID)])
    }

    private func loop(_ doorbell: Doorbell) async {
        while !Task.isCancelled {
            do {
                let (db, time, logger) = (self.db, self.time, self.logger)
                try await withDeadline(seconds: 5) { try await WebhookStore.reclaimExpired(at: time.now(), on: db, logger: logger) }
                if try await runOnce() == 0 { await doorbell.wait(seconds: settings.pollSeconds) }
            } catch {
                if Task.isCancelled { return }
                logger.error("webhook worker loop failed", metadata: ["error": .string(String(describing: error))])
                await doorbell.wait(seconds: settings.pollSeconds)
            }
        }
    }

    /// Claims one batch and delivers it, `settings.concurrency` at a time; returns how many were
    /// claimed. Tests call this directly.
    @discardableResult
    public func runOnce() async throws -> Int {
        let (db, time, logger, settings) = (self.db, self.time, self.logger, self.settings)
        let batch = try await withDeadline(seconds: 5) {
            try await WebhookStore.claim(
                limit: settings.batchSize, worker: settings.workerID, leaseSeconds: settings.leaseSeconds, at: time.now(), on: db, logger: logger)
        }
        guard !batch.isEmpty else { return 0 }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            for c in batch {
                if running >= settings.concurrency {
                    try await group.next()
                    running -= 1
                }
                group.addTask { try await deliver(c) }
                running += 1
            }
            try await group.waitForAll()
        }
        return batch.count
    }

    /// Signs and sends one claimed delivery, then records the attempt and its outcome.
    func deliver(_ c: ClaimedWebhook) async throws {
        let d = c.delivery
        let startedAt = time.now()
        let started = ContinuousClock.now
        let result: WebhookSender.Result
        do {
            let secret = try key.open(c.secret, context: d.subscriptionID)
            let body = d.event.body
            let id = d.id.lowercasedString
            let timestamp = Int64(time.now().timeIntervalSince1970.rounded(.down))
            let signature = WebhookSignature.sign(secret: secret, id: id, timestamp: timestamp, body: body) ?? ""
            result = await sender.post(
                c.url,
                headers: [
                    ("content-type", "application/json"), ("user-agent", "Callboard-Webhooks/1"), ("webhook-id", id),
                    ("webhook-timestamp", String(timestamp)), ("webhook-signature", signature),
                ], body: body)
        } catch {
            result = .failed("cannot sign: \(error)")
        }
        let elapsed = ContinuousClock.now - started
        let ms = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        let now = time.now()
        let last = d.attempts >= d.maxAttempts
        let outcome: WebhookStore.Outcome
        switch result {
        case .answered(let status) where (200..<300).contains(status): outcome = .delivered(status: status)
        case .answered(410): outcome = .gone(status: 410)
        case .answered(let status):
            let error = "the receiver answered \(status)"
            outcome = last ? .dead(status: status, error: error) : .retry(at: retryAt(d.attempts, now), status: status, error: error)
        case .failed(let error):
            outcome = last ? .dead(status: nil, error: error) : .retry(at: retryAt(d.attempts, now), status: nil, error: error)
        }
        let label: String
        switch outcome {
        case .delivered: label = "delivered"
        case .gone: label = "gone"
        case .retry: label = "retry"
        case .dead: label = "dead"
        }
        if label != "delivered" {
            // The delivery and subscription ids, the attempt and the outcome: never the URL, the secret or the body.
            logger.warning(
                "webhook not delivered",
                metadata: [
                    "delivery_id": .string(d.id.lowercasedString), "subscription_id": .string(d.subscriptionID.lowercasedString),
                    "attempt": .stringConvertible(d.attempts), "outcome": .string(label),
                ])
        }
        let recorded = try await withDeadline(seconds: 5) { [db, logger] in
            try await WebhookStore.finish(
                d.id, attempt: d.attempts, outcome: outcome, startedAt: startedAt, durationMS: ms, at: now, on: db, logger: logger)
        }
        if !recorded {
            logger.warning("webhook outcome discarded: a newer attempt owns it", metadata: ["delivery_id": .string(d.id.lowercasedString)])
        }
        Counter(label: "callboard_webhook_attempts_total", dimensions: [("outcome", label)]).increment()
    }

    func retryAt(_ attempt: Int, _ now: Date) -> Date {
        now.addingTimeInterval(max(1, settings.retry.delay(afterAttempt: attempt, unit: random())))
    }

    /// Keeps a LISTEN connection open and rings the doorbell on every notification; reconnects with backoff.
    func listen(_ url: DatabaseURL, doorbell: Doorbell) async {
        var backoff = 0.5
        while !Task.isCancelled {
            do {
                let conn = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 1, logger: logger)
                backoff = 0.5
                defer { Task { try? await conn.close() } }
                let notifications = try await conn.listen(WebhookStore.channel)
                await doorbell.ring()
                for try await _ in notifications { await doorbell.ring() }
            } catch {
                if Task.isCancelled { return }
                logger.warning("webhook LISTEN connection lost; reconnecting", metadata: ["error": .string(String(describing: error))])
            }
            try? await Task.sleep(nanoseconds: UInt64(backoff * 1e9))
            backoff = min(backoff * 2, 30)
        }
    }
}
