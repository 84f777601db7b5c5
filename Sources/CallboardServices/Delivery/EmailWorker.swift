import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

public struct WorkerSettings: Sendable {
    public var batchSize = 32
    public var concurrency = 16
    public var leaseSeconds: Double = 30
    /// How long to wait for a NOTIFY before polling anyway.
    public var pollSeconds: Double = 2
    public var workerID = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(6))"

    public init() {}
}

/// Delivers the outbox: claims batches, holds and extends leases while sending, records each outcome
/// fenced by attempt number, retries with capped exponential backoff and full jitter. Wakes on
/// LISTEN/NOTIFY (reconnecting if the listening connection drops) and polls as a fallback.
public struct EmailWorker: Service {
    let db: PostgresClient
    let listenURL: DatabaseURL?
    let transport: any EmailTransport
    let settings: WorkerSettings
    let email: EmailSettings
    let time: any TimeSource
    let logger: Logger
    let random: @Sendable () -> Double

    public init(
        db: PostgresClient, listenURL: DatabaseURL?, transport: any EmailTransport, settings: WorkerSettings = .init(),
        email: EmailSettings, time: any TimeSource = SystemTime(), logger: Logger,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.db = db
        self.listenURL = listenURL
        self.transport = transport
        self.settings = settings
        self.email = email
        self.time = time
        self.logger = logger
        self.random = random
    }

    public func run() async throws {
        let doorbell = Doorbell()
        logger.info("email worker started", metadata: ["worker": .string(settings.workerID), "transport": .string(transport.name)])
        await withDiscardingTaskGroup { group in
            if let url = listenURL {
                group.addTask { await listen(url, doorbell: doorbell) }
            }
            await cancelWhenGracefulShutdown { await loop(doorbell) }
            group.cancelAll()
        }
        await transport.shutdown()
        logger.info("email worker stopped", metadata: ["worker": .string(settings.workerID)])
    }

    private func loop(_ doorbell: Doorbell) async {
        while !Task.isCancelled {
            do {
                try await EmailStore.reclaimExpired(at: time.now(), on: db, logger: logger)
                if try await runOnce() == 0 { await doorbell.wait(seconds: settings.pollSeconds) }
            } catch {
                // A transaction cut short by shutdown surfaces as an error: that is not a failure.
                if Task.isCancelled { return }
                logger.error("email worker loop failed", metadata: ["error": .string(String(describing: error))])
                await doorbell.wait(seconds: settings.pollSeconds)
            }
        }
    }

    /// Claims one batch and delivers it; returns how many were claimed. Tests call this directly.
    @discardableResult
    public func runOnce() async throws -> Int {
        let batch = try await EmailStore.claim(
            limit: settings.batchSize, worker: settings.workerID, leaseSeconds: settings.leaseSeconds,
            at: time.now(), on: db, logger: logger)
        guard !batch.isEmpty else { return 0 }
        // Send with bounded concurrency, then record every outcome of the batch in one statement.
        let outcomes = try await withThrowingTaskGroup(of: (EmailRecord, EmailStore.Outcome, String).self) { group in
            var results: [(EmailRecord, EmailStore.Outcome, String)] = []
            var running = 0
            for e in batch {
                if running >= settings.concurrency, let r = try await group.next() {
                    results.append(r)
                    running -= 1
                }
                group.addTask { try await deliver(e) }
                running += 1
            }
            for try await r in group { results.append(r) }
            return results
        }
        let recorded = try await EmailStore.finish(outcomes.map { ($0.0.id, $0.0.attempts, $0.1) }, at: time.now(), on: db, logger: logger)
        for (e, _, label) in outcomes {
            guard recorded.contains(e.id) else {
                logger.warning("email outcome discarded: a newer attempt owns it", metadata: ["email_id": .string(e.id.uuidString)])
                continue
            }
            Counter(label: "callboard_email_sends_total", dimensions: [("transport", transport.name), ("outcome", label)]).increment()
            if label == "sent" {
                Timer(label: "callboard_email_enqueue_to_sent_seconds").recordNanoseconds(Int64(time.now().timeIntervalSince(e.createdAt) * 1e9))
            }
        }
        return batch.count
    }

    /// Sends one email and decides its outcome; the caller records it.
    func deliver(_ e: EmailRecord) async throws -> (EmailRecord, EmailStore.Outcome, String) {
        let attempt = e.attempts
        let started = ContinuousClock.now
        // The lease is extended while the send is in progress, so a slow server does not look like a dead worker.
        let heartbeat = Task {
            while !Task.isCancelled {
                try await Task.sleep(nanoseconds: UInt64(settings.leaseSeconds / 3 * 1e9))
                let alive = try await EmailStore.heartbeat(
                    id: e.id, attempt: attempt, until: time.now().addingTimeInterval(settings.leaseSeconds),
                    on: db, logger: logger)
                if !alive { return }
            }
        }
        defer { heartbeat.cancel() }
        let outcome: EmailStore.Outcome
        let label: String
        do {
            try await transport.send(OutgoingEmail(e, from: email.from))
            outcome = .sent
            label = "sent"
        } catch {
            let last = attempt >= e.maxAttempts
            switch error {
            case .permanent(let m, let bad):
                outcome = .failed(error: m, suppressAddress: bad)
                label = "failed"
            case .rateLimited(let after, let m):
                outcome = last ? .dead(error: m) : .retry(at: time.now().addingTimeInterval(after), error: m)
                label = last ? "dead" : "retry"
            case .temporary(let m):
                let delay = email.retry.delay(afterAttempt: attempt, unit: random())
                outcome = last ? .dead(error: m) : .retry(at: time.now().addingTimeInterval(delay), error: m)
                label = last ? "dead" : "retry"
            }
            logger.warning(
                "email not sent",
                metadata: [
                    "email_id": .string(e.id.uuidString), "attempt": .stringConvertible(attempt),
                    "outcome": .string(label), "error": .string(error.message),
                ])
        }
        Timer(label: "callboard_email_send_duration_seconds", dimensions: [("transport", transport.name)])
            .recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        return (e, outcome, label)
    }

    /// Keeps a LISTEN connection open and rings the doorbell on every notification; reconnects with backoff.
    func listen(_ url: DatabaseURL, doorbell: Doorbell) async {
        var backoff = 0.5
        var id = 1
        while !Task.isCancelled {
            do {
                let conn = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: id, logger: logger)
                id += 1
                backoff = 0.5
                defer { Task { try? await conn.close() } }
                let notifications = try await conn.listen(EmailStore.channel)
                await doorbell.ring()  // anything queued while we were away
                for try await _ in notifications { await doorbell.ring() }
            } catch {
                if Task.isCancelled { return }
                logger.warning("email LISTEN connection lost; reconnecting", metadata: ["error": .string(String(describing: error))])
            }
            try? await Task.sleep(nanoseconds: UInt64(backoff * 1e9))
            backoff = min(backoff * 2, 30)
        }
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

/// Wakes the worker loop: `ring` releases a waiter (or the next one), `wait` returns on a ring or after a timeout.
actor Doorbell {
    private var rung = false
    private var waiter: CheckedContinuation<Void, Never>?

    func ring() {
        if let w = waiter {
            waiter = nil
            w.resume()
        } else {
            rung = true
        }
    }

    func wait(seconds: Double) async {
        if rung {
            rung = false
            return
        }
        let timeout = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            await self?.ring()
        }
        await withCheckedContinuation { waiter = $0 }
        rung = false
        timeout.cancel()
    }
}
