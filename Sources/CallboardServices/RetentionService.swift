import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// How long the retention job keeps each kind of row, built from `Settings`.
public struct RetentionSettings: Sendable, Equatable {
    public var intervalSeconds: Double = 3600
    /// Rows per statement.
    public var batchSize = 1000
    public var linkDays = 30
    public var sessionDays = 30
    public var idempotencyHours = 24
    public var emailBodyDays = 90

    public init() {}

    public init(_ settings: Settings) {
        intervalSeconds = settings.retentionIntervalSeconds
        batchSize = settings.retentionBatch
        linkDays = settings.linkRetentionDays
        sessionDays = settings.sessionRetentionDays
        idempotencyHours = settings.idempotencyRetentionHours
        emailBodyDays = settings.emailBodyRetentionDays
    }

    /// The cutoffs at `now`.
    public func cutoffs(at now: Date) -> RetentionStore.Cutoffs {
        let day: TimeInterval = 86_400
        return RetentionStore.Cutoffs(
            now: now, pageLinksExpiredBy: now.addingTimeInterval(-Double(linkDays) * day),
            sessionsOverBy: now.addingTimeInterval(-Double(sessionDays) * day),
            idempotencyKeysCreatedBy: now.addingTimeInterval(-Double(idempotencyHours) * 3600),
            emailsSentBy: now.addingTimeInterval(-Double(emailBodyDays) * day))
    }
}

/// What one run removed, or (dry run) would remove, by kind.
public struct RetentionReport: Sendable, Equatable {
    public var counts: [RetentionStore.Kind: Int] = [:]
    /// Link tokens deleted with their page and sign-in links.
    public var linkTokens = 0

    public init(counts: [RetentionStore.Kind: Int] = [:], linkTokens: Int = 0) {
        self.counts = counts
        self.linkTokens = linkTokens
    }

    public subscript(kind: RetentionStore.Kind) -> Int { counts[kind] ?? 0 }

    public var total: Int { counts.values.reduce(0, +) + linkTokens }

    /// `name: count`, one per line, in a fixed order (`callboard retention` prints them).
    public var lines: [String] {
        var out: [String] = []
        for kind in RetentionStore.Kind.allCases {
            out.append("\(kind.rawValue): \(self[kind])")
            if kind == .signInLinks { out.append("link_tokens: \(linkTokens)") }
        }
        return out
    }
}

/// The retention job: deletes what Callboard no longer needs, in bounded batches, on each run.
/// `worker` and `serve --with-worker` run it at start and then every `intervalSeconds`;
/// `callboard retention` runs it once, and `--dry-run` only counts. It never touches `requests`
/// or `request_events` (which are kept for good), nor anything not listed in `RetentionStore.Kind`.
public struct RetentionService: Service {
    let db: PostgresClient
    let time: any TimeSource
    let logger: Logger
    public let settings: RetentionSettings

    public init(db: PostgresClient, time: any TimeSource = SystemTime(), logger: Logger, settings: RetentionSettings) {
        self.db = db
        self.time = time
        self.logger = logger
        self.settings = settings
    }

    /// What a run now would remove; writes nothing.
    public func preview() async throws -> RetentionReport {
        let cutoffs = settings.cutoffs(at: time.now())
        var report = RetentionReport()
        for kind in RetentionStore.Kind.allCases {
            let n = try await RetentionStore.count(kind, cutoffs, on: db, logger: logger)
            report.counts[kind] = n.rows
            report.linkTokens += n.linkTokens
        }
        return report
    }

    /// One run: each kind in batches of `batchSize` until a short batch. Stops between batches when
    /// the task is cancelled (a batch is one statement: it commits whole or not at all).
    @discardableResult
    public func purge() async throws -> RetentionReport {
        let cutoffs = settings.cutoffs(at: time.now())
        var report = RetentionReport()
        for kind in RetentionStore.Kind.allCases {
            var removed = 0
            while !Task.isCancelled {
                let batch = try await RetentionStore.purgeBatch(kind, cutoffs, limit: settings.batchSize, on: db, logger: logger)
                removed += batch.rows
                report.linkTokens += batch.linkTokens
                if batch.rows < settings.batchSize { break }
            }
            report.counts[kind] = removed
            if removed > 0 { Counter(label: "callboard_retention_rows_total", dimensions: [("kind", kind.rawValue)]).increment(by: removed) }
        }
        if report.linkTokens > 0 {
            Counter(label: "callboard_retention_rows_total", dimensions: [("kind", "link_tokens")]).increment(by: report.linkTokens)
        }
        return report
    }

    public func run() async throws {
        logger.info("retention job started", metadata: ["interval_seconds": "\(settings.intervalSeconds)"])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    // Bounded like the scheduler's tick: a run stuck on a closed connection must not stop the next.
                    let report = try await withDeadline(seconds: 600) { try await self.purge() }
                    var metadata: Logger.Metadata = [:]
                    for kind in RetentionStore.Kind.allCases { metadata[kind.rawValue] = .stringConvertible(report[kind]) }
                    metadata["link_tokens"] = .stringConvertible(report.linkTokens)
                    logger.log(level: report.total > 0 ? .info : .debug, "retention run", metadata: metadata)
                } catch {
                    if Task.isCancelled { break }
                    logger.error("retention run failed", metadata: ["error": .string(String(describing: error))])
                }
                try? await Task.sleep(for: .seconds(settings.intervalSeconds))
            }
        }
        logger.info("retention job stopped")
    }
}
