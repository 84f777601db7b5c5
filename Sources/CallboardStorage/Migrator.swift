import CallboardDomain
import Crypto
import Foundation
import Logging
import PostgresNIO

/// One numbered SQL file from `migrations/`.
public struct Migration: Sendable, Equatable {
    public var name: String
    public var sql: String
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).hexString
    }

    /// The migrations shipped with the program, in order (copied from `migrations/` at build time).
    public static func bundled() throws -> [Migration] {
        guard let dir = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError.missingBundle
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sql") }.sorted()
        return try files.map { Migration(name: String($0.dropLast(4)), sql: try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8)) }
    }
}

public enum MigrationError: Error, CustomStringConvertible {
    case missingBundle
    case changed(name: String)
    case unknown(names: [String])
    case pending(names: [String])

    public var description: String {
        switch self {
        case .missingBundle: return "the migrations folder was not found beside the program"
        case .changed(let name): return "migration \(name) was changed after it was applied (checksum differs); add a new migration instead"
        case .unknown(let names):
            return
                "the database has migrations this program does not know: \(names.joined(separator: ", ")) (is the program older than the database?)"
        case .pending(let names):
            return "the database has pending migrations: \(names.joined(separator: ", ")); run `callboard migrate` or `callboard serve --migrate`"
        }
    }
}

/// Applies migrations in order, each in its own transaction, under an advisory lock so that
/// several instances starting together apply each migration once.
public struct Migrator: Sendable {
    /// Any fixed number; it names Callboard's lock among the server's advisory locks.
    static let lockKey: Int64 = 0x4341_4C4C_424F_4152
    public let migrations: [Migration]
    public let logger: Logger

    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    public struct Status: Sendable, Equatable {
        public var applied: [String]
        public var pending: [String]
    }

    /// Applies every pending migration; returns the names applied now.
    @discardableResult
    public func migrate(_ client: PostgresClient) async throws -> [String] {
        try await client.withConnection { conn in
            try await conn.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                try await conn.query(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                    """, logger: logger)
                let done = try await readApplied(conn)
                try verify(done)
                var appliedNow: [String] = []
                for m in migrations where done[m.name] == nil {
                    logger.info("applying migration", metadata: ["migration": .string(m.name)])
                    try await conn.query("BEGIN", logger: logger)
                    do {
                        for statement in SQLScript.statements(m.sql) {
                            try await conn.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await conn.query(
                            "INSERT INTO schema_migrations (name, checksum) VALUES (\(m.name), \(m.checksum))", logger: logger)
                        try await conn.query("COMMIT", logger: logger)
                    } catch {
                        if !conn.isClosed { _ = try? await withDeadline(seconds: 2) { try await conn.query("ROLLBACK", logger: logger) } }
                        throw error
                    }
                    appliedNow.append(m.name)
                }
                try await conn.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return appliedNow
            } catch {
                _ = try? await conn.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// What is applied and what is pending; throws when an applied migration changed or is unknown.
    public func status(_ client: PostgresClient) async throws -> Status {
        let done = try await client.withConnection { try await readApplied($0) }
        try verify(done)
        return Status(
            applied: migrations.map(\.name).filter { done[$0] != nil },
            pending: migrations.map(\.name).filter { done[$0] == nil })
    }

    /// Throws `.pending` unless the database is current.
    public func requireCurrent(_ client: PostgresClient) async throws {
        let s = try await status(client)
        if !s.pending.isEmpty { throw MigrationError.pending(names: s.pending) }
    }

    private func verify(_ done: [String: String]) throws {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.name, $0.checksum) })
        let unknown = done.keys.filter { known[$0] == nil }.sorted()
        if !unknown.isEmpty { throw MigrationError.unknown(names: unknown) }
        for (name, checksum) in done where known[name] != checksum { throw MigrationError.changed(name: name) }
    }

    /// Applied migrations by name; none when the bookkeeping table does not exist yet.
    private func readApplied(_ conn: PostgresConnection) async throws -> [String: String] {
        let exists =
            try await conn.query("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
            .collect().first?.decode(Bool.self) ?? false
        guard exists else { return [:] }
        var done: [String: String] = [:]
        for try await (name, checksum) in try await conn.query("SELECT name, checksum FROM schema_migrations", logger: logger)
            .decode((String, String).self)
        {
            done[name] = checksum
        }
        return done
    }
}
