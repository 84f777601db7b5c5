import CallboardStorage
import Foundation
import Logging
import ServiceLifecycle

/// Ticks the reminder scheduler every `intervalSeconds` until shutdown. Errors are logged and the
/// next tick tries again; a tick cut short by shutdown rolls back and loses nothing.
public struct SchedulerService: Service {
    let scheduler: ReminderScheduler
    let logger: Logger

    public init(scheduler: ReminderScheduler, logger: Logger) {
        self.scheduler = scheduler
        self.logger = logger
    }

    public func run() async throws {
        logger.info("scheduler started", metadata: ["interval_seconds": "\(scheduler.settings.intervalSeconds)"])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    // Bounded without waiting for it (see `withDeadline`): a tick stuck on a connection
                    // PostgreSQL closed must not stop every later tick. Cut short, it rolls back.
                    let scheduler = self.scheduler
                    _ = try await withDeadline(seconds: 300) { try await scheduler.tick() }
                } catch {
                    if Task.isCancelled { break }
                    logger.error("scheduler tick failed", metadata: ["error": .string(String(describing: error))])
                }
                try? await Task.sleep(for: .seconds(scheduler.settings.intervalSeconds))
            }
        }
        logger.info("scheduler stopped")
    }
}
