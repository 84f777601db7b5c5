import CallboardDomain
import CallboardStorage
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// Each test gets its own database, copied from a migrated template: isolated and fast.
/// The server comes from CALLBOARD_TEST_DATABASE_URL, which `scripts/test.sh` sets.
enum TestDatabase {
    static let logger: Logger = {
        var l = Logger(label: "test")
        l.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return l
    }()

    static func serverURL() throws -> DatabaseURL {
        guard let raw = ProcessInfo.processInfo.environment["CALLBOARD_TEST_DATABASE_URL"] else {
            throw TestSetupError("CALLBOARD_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL")
        }
        return try DatabaseURL(raw)
    }

    private static let template = TemplateOnce()

    /// Creates a fresh database (migrated unless `migrated` is false) and runs `body` with a running client for it.
    static func with<T: Sendable>(migrated: Bool = true, _ body: @Sendable (PostgresClient, DatabaseURL) async throws -> T) async throws -> T {
        let server = try serverURL()
        let templateName = migrated ? try await template.name(server: server) : "template0"
        let name = "cb_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await admin(server) { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(templateName)"), logger: logger) }
        let url = server.with(database: String(name))
        let client = PostgresClient(configuration: try url.clientConfiguration(maxConnections: 30), backgroundLogger: logger)
        let result: Result<T, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            do { return .success(try await body(client, url)) } catch { return .failure(error) }
        }
        _ = try? await admin(server) { try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger) }
        return try result.get()
    }

    /// Runs `body` with a client on the server's `postgres` database.
    static func admin<T: Sendable>(_ server: DatabaseURL, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(
            configuration: try server.with(database: "postgres").clientConfiguration(maxConnections: 2), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Builds the migrated template once per test process.
actor TemplateOnce {
    private var task: Task<String, any Error>?

    func name(server: DatabaseURL) async throws -> String {
        if let task { return try await task.value }
        let t = Task<String, any Error> {
            let name = "cb_template_\(ProcessInfo.processInfo.processIdentifier)"
            try await TestDatabase.admin(server) { c in
                try await c.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: TestDatabase.logger)
                try await c.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: TestDatabase.logger)
            }
            let client = PostgresClient(
                configuration: try server.with(database: name).clientConfiguration(maxConnections: 2),
                backgroundLogger: TestDatabase.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                try await Migrator(migrations: try Migration.bundled(), logger: TestDatabase.logger).migrate(client)
                group.cancelAll()
            }
            return name
        }
        task = t
        return try await t.value
    }
}

/// A clock the test moves by hand.
final class TestClock: TimeSource {
    private let current: Mutex<Date>
    init(_ start: Date = Date(timeIntervalSince1970: 1_795_000_000)) { current = Mutex(start) }
    func now() -> Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
