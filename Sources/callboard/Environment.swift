import ArgumentParser
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// Options every command that touches the database shares. Values come from flags, else the environment.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "postgres://user:password@host:port/db (default: $DATABASE_URL)")
    var databaseURL: String?

    @Option(name: .customLong("db-pool-size"), help: "Most connections to open (default: $CALLBOARD_DB_POOL_SIZE or 20)")
    var poolSize: Int?

    func url() throws -> DatabaseURL {
        guard let raw = databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !raw.isEmpty else {
            throw ValidationError("Set DATABASE_URL (postgres://user:password@host:port/database) or pass --database-url")
        }
        do { return try DatabaseURL(raw) } catch { throw ValidationError(String(describing: error)) }
    }

    func client(logger: Logger, keepOpen: Bool = false) throws -> PostgresClient {
        let size = poolSize ?? ProcessInfo.processInfo.environment["CALLBOARD_DB_POOL_SIZE"].flatMap(Int.init) ?? 20
        return PostgresClient(
            configuration: try url().clientConfiguration(maxConnections: max(2, size), keepOpen: keepOpen), backgroundLogger: logger)
    }
}

enum Logs {
    /// JSON lines by default (CALLBOARD_LOG_FORMAT=text for people), level from CALLBOARD_LOG_LEVEL.
    static func bootstrap() -> Logger {
        let env = ProcessInfo.processInfo.environment
        let level = env["CALLBOARD_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let json = env["CALLBOARD_LOG_FORMAT"] != "text"
        LoggingSystem.bootstrap { label in
            var h: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        return Logger(label: "callboard")
    }
}

/// Runs `body` with a started PostgresClient, then shuts the client down.
func withDatabase<T: Sendable>(
    _ options: DatabaseOptions, logger: Logger, keepOpen: Bool = false,
    _ body: @Sendable (PostgresClient) async throws -> T
) async throws -> T {
    // A one-shot command may query before the pool's run() task is scheduled; PostgresNIO then
    // warns and waits. The wait is harmless, so only errors from the pool are shown here.
    var poolLogger = logger
    poolLogger.logLevel = max(logger.logLevel, .error)
    let client = try options.client(logger: poolLogger, keepOpen: keepOpen)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}
