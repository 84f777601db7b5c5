import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Tracing

public struct WorkerSettings: Sendable {
    public var batchSize = 32
    public var concurrency = 16
    /// Batches delivered at once, each by its own loop with `concurrency` sends.
    public var loops = 2
    public var leaseSeconds: Double = 30
    /// How long the outcome writer waits after a send ends for others to end too, so one statement
    /// records several: with quick sends one a statement cost PostgreSQL ~100 µs an email.
    public var outcomeWindow: Duration = .milliseconds(2)
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
            // Several loops, each claiming and delivering its own batches: while one waits for its
            // claim or for its batch's last sends and outcomes, another's sends keep the slots busy.
            await cancelWhenGracefulShutdown {
                await withDiscardingTaskGroup { loops in
                    for _ in 0..<settings.loops { loops.addTask { await loop(doorbell) } }
                }
            }
            group.cancelAll()
        }
        await transport.shutdown()
        logger.info("email worker stopped", metadata: ["worker": .string(settings.workerID)])
    }

    private func loop(_ doorbell: Doorbell) async {
        while !Task.isCancelled {
            do {
                let (db, time, logger) = (self.db, self.time, self.logger)
                try await bounded { try await EmailStore.reclaimExpired(at: time.now(), on: db, logger: logger) }
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
        let (db, time, logger, settings) = (self.db, self.time, self.logger, self.settings)
        let batch = try await bounded {
            try await EmailStore.claim(
                limit: settings.batchSize, worker: settings.workerID, leaseSeconds: settings.leaseSeconds,
                at: time.now(), on: db, logger: logger)
        }
        guard !batch.isEmpty else { return 0 }
        // One trace per claimed batch (an idle poll makes none, so the claim itself is not traced).
        try await withSpan("email batch", ofKind: .consumer) { span in
            span.attributes["callboard.email.batch_size"] = batch.count
            try await deliverBatch(batch)
        }
        return batch.count
    }

    /// Sends a claimed batch, `settings.concurrency` at a time, recording each outcome as it ends.
    private func deliverBatch(_ batch: [EmailRecord]) async throws {
        // Every claimed email's lease is kept alive from the claim until its outcome is written,
        // including those still waiting for a free sending slot.
        // An email whose outcome is written is no longer `sending`, so the beat passes it by; the
        // beat stops when none is left, and whatever way the batch ends (a failed write included)
        // it does not outlive it.
        let heartbeat = heartbeat(batch)
        defer { heartbeat.cancel() }
        let links = try await mintLinks(batch)
        // Each outcome is recorded as soon as its send ends, together with whatever else finished
        // within `outcomeWindow` or while the previous record was being written: a slow send never
        // holds back the others' outcomes, so no other worker can reclaim and resend an email that
        // already went.
        let recorder = OutcomeRecorder()
        let (signals, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signals {
                    // Cut short by shutdown, the wait ends and what has finished is still written.
                    try? await Task.sleep(for: settings.outcomeWindow)
                    try await record(recorder.take())
                }
                try await record(recorder.take())
            }
            try await withThrowingTaskGroup(of: Void.self) { sends in
                var running = 0
                for e in batch {
                    if running >= settings.concurrency {
                        try await sends.next()
                        running -= 1
                    }
                    sends.addTask {
                        let done = try await deliver(e, links: links[e.id] ?? [:])
                        recorder.add(done)
                        ring.yield()
                    }
                    running += 1
                }
                try await sends.waitForAll()
            }
            ring.finish()
            try await group.waitForAll()
        }
    }

    /// Mints a token for each link placeholder in the batch's emails (stored as hashes before any
    /// email leaves); by email id, the tokens by link id.
    func mintLinks(_ batch: [EmailRecord]) async throws -> [UUID: [UUID: String]] {
        var wanted: [LinkTokenStore.Minted] = []
        for e in batch {
            var texts = [e.bodyText, e.bodyHTML]
            if case .object(let o) = e.templateData { texts += o.values.compactMap(\.stringValue) }
            for id in LinkPlaceholder.ids(in: texts) { wanted.append(.init(emailID: e.id, linkID: id, token: NewLink.random())) }
        }
        var out: [UUID: [UUID: String]] = [:]
        let minted = try await DatabaseSpan.statement("INSERT link_tokens") {
            try await bounded { [db, time, logger, wanted] in try await LinkTokenStore.mint(wanted, at: time.now(), on: db, logger: logger) }
        }
        for m in minted { out[m.emailID, default: [:]][m.linkID] = m.token }
        return out
    }

    /// Runs one of the worker's own statements with a deadline that does not wait for it: a query
    /// sent on a connection PostgreSQL has just closed never returns (see `withDeadline`), and the
    /// worker must go on once the database is back rather than wait on it for ever.
    func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        // Each is one short statement (milliseconds under load); 5 s is far past any healthy answer.
        try await withDeadline(seconds: 5, body)
    }

    /// Writes finished sends' outcomes.
    private func record(_ done: [Delivered]) async throws {
        guard !done.isEmpty else { return }
        let recorded = try await DatabaseSpan.statement("UPDATE emails") {
            try await bounded { [db, time, logger] in
                try await EmailStore.finish(done.map { ($0.email.id, $0.email.attempts, $0.outcome) }, at: time.now(), on: db, logger: logger)
            }
        }
        for d in done {
            guard recorded.contains(d.email.id) else {
                logger.warning("email outcome discarded: a newer attempt owns it", metadata: ["email_id": .string(d.email.id.uuidString)])
                continue
            }
            Counter(label: "callboard_email_sends_total", dimensions: [("transport", transport.name), ("outcome", d.label)]).increment()
            if d.label == "sent" {
                Timer(label: "callboard_email_enqueue_to_sent_seconds").recordNanoseconds(
                    Int64(time.now().timeIntervalSince(d.email.createdAt) * 1e9))
            }
        }
    }

    /// Extends the batch's leases every third of a lease while any of its attempts is still ours
    /// (`sending`), so a slow server (or a wait for a sending slot) does not look like a dead worker.
    /// One statement a beat for the whole batch: those whose outcome is written drop out by status.
    func heartbeat(_ batch: [EmailRecord]) -> Task<Void, any Error> {
        let leases = batch.map { (id: $0.id, attempt: $0.attempts) }
        return Task {
            while !Task.isCancelled {
                try await Task.sleep(nanoseconds: UInt64(settings.leaseSeconds / 3 * 1e9))
                let alive = try await EmailStore.heartbeat(
                    leases, until: time.now().addingTimeInterval(settings.leaseSeconds), on: db, logger: logger)
                if alive == 0 { return }
            }
        }
    }

    /// Sends one email and decides its outcome; the caller records it.
    func deliver(_ e: EmailRecord, links: [UUID: String] = [:]) async throws -> Delivered {
        let attempt = e.attempts
        let started = ContinuousClock.now
        let outcome: EmailStore.Outcome
        let label: String
        // The span names the kind, transport, attempt and outcome: never an address, a subject, a
        // link or the relay's words (they may quote a token back), so errors are not recorded.
        let span = startSpan("email send", ofKind: .client)
        span.attributes["callboard.email.kind"] = e.kind
        span.attributes["callboard.email.transport"] = transport.name
        span.attributes["callboard.email.attempt"] = attempt
        do {
            try await transport.send(OutgoingEmail(e, from: email.from, links: links))
            outcome = .sent
            label = "sent"
        } catch let failure {
            // A relay may quote the message back: the tokens minted for this send never reach
            // the stored error, the API or the log.
            var error = failure
            for token in links.values where error.message.contains(token) {
                error = error.replacingMessage(error.message.replacingOccurrences(of: token, with: "redacted"))
            }
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
        span.attributes["callboard.email.outcome"] = label
        if label != "sent" { span.setStatus(SpanStatus(code: .error)) }
        span.end()
        Timer(label: "callboard_email_send_duration_seconds", dimensions: [("transport", transport.name)])
            .recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        return Delivered(email: e, outcome: outcome, label: label)
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

/// A finished send waiting for its outcome to be written.
struct Delivered: Sendable {
    var email: EmailRecord
    var outcome: EmailStore.Outcome
    var label: String
}

/// Finished sends, collected until the recorder takes them (one write for all that finished meanwhile).
final class OutcomeRecorder: Sendable {
    private let pending = Mutex<[Delivered]>([])
    func add(_ d: Delivered) { pending.withLock { $0.append(d) } }
    func take() -> [Delivered] {
        pending.withLock { p in
            defer { p = [] }
            return p
        }
    }
}

/// Wakes a worker's loops: `ring` releases every loop waiting (or, when none waits, the next one
/// to wait), `wait` returns on a ring or after its own timeout.
actor Doorbell {
    private var rung = false
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter = 0
    /// Loops waiting now (for tests).
    var waiting: Int { waiters.count }

    func ring() {
        guard !waiters.isEmpty else {
            rung = true
            return
        }
        // Every loop waiting tries to claim: those that find nothing wait again.
        let woken = waiters.values
        waiters = [:]
        for w in woken { w.resume() }
    }

    /// Releases one waiter (its timeout or its cancellation); nothing when a ring already has.
    private func release(_ id: Int) { waiters.removeValue(forKey: id)?.resume() }

    func wait(seconds: Double) async {
        if rung {
            rung = false
            return
        }
        let id = nextWaiter
        nextWaiter += 1
        let timeout = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            await self?.release(id)
        }
        // Shutdown cancels the waiting task: it is released, so a worker with a long poll stops at
        // once rather than sleeping out the interval past the service group's cancellation deadline.
        // The release hops onto this actor, so it runs after the continuation is stored, or the
        // check below has already seen the cancellation.
        await withTaskCancellationHandler {
            await withCheckedContinuation { c in
                if Task.isCancelled { c.resume() } else { waiters[id] = c }
            }
        } onCancel: {
            Task { await self.release(id) }
        }
        rung = false
        timeout.cancel()
    }
}
