import ArgumentParser
import CallboardServices
import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// Options every command that touches the database shares. Flags override the environment.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "postgres://user:password@host:port/db (default: $DATABASE_URL or $DATABASE_URL_FILE)")
    var databaseURL: String?

    @Option(name: .customLong("db-pool-size"), help: "Most connections to open (default: $CALLBOARD_DB_POOL_SIZE or 20)")
    var poolSize: Int?

    /// These flags as settings overrides, by variable name.
    var overrides: [String: String] {
        var o: [String: String] = [:]
        if let databaseURL { o["DATABASE_URL"] = databaseURL }
        if let poolSize { o["CALLBOARD_DB_POOL_SIZE"] = String(poolSize) }
        return o
    }

    /// The settings, read once from the environment with these flags (and `extra` ones) winning;
    /// invalid settings end the command with every problem listed.
    func settings(_ extra: [String: String] = [:]) throws -> Settings {
        try Settings(environment: ProcessInfo.processInfo.environment, overrides: overrides.merging(extra) { $1 })
    }
}

extension Settings {
    /// DATABASE_URL, which reading the settings requires.
    func database() throws -> DatabaseURL {
        guard let databaseURL else { throw ValidationError("Set DATABASE_URL (or DATABASE_URL_FILE) or pass --database-url") }
        return databaseURL
    }

    func databaseClient(logger: Logger) throws -> PostgresClient {
        PostgresClient(
            configuration: try database().clientConfiguration(maxConnections: databasePoolSize), backgroundLogger: logger)
    }
}

enum Logs {
    /// JSON lines by default (CALLBOARD_LOG_FORMAT=text for people), level from CALLBOARD_LOG_LEVEL.
    static func bootstrap(_ settings: Settings) -> Logger {
        let (level, format) = (settings.logLevel, settings.logFormat)
        LoggingSystem.bootstrap { label in
            var h: any LogHandler = format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        return Logger(label: "callboard")
    }
}

/// Runs `body` with a started PostgresClient, then shuts the client down.
func withDatabase<T: Sendable>(
    _ settings: Settings, logger: Logger,
    _ body: @Sendable (PostgresClient) async throws -> T
) async throws -> T {
    // A one-shot command may query before the pool's run() task is scheduled; PostgresNIO then
    // warns and waits. The wait is harmless, so only errors from the pool are shown here.
    var poolLogger = logger
    poolLogger.logLevel = max(logger.logLevel, .error)
    let client = try settings.databaseClient(logger: poolLogger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}
