import Foundation
import PostgresNIO
import Testing

@testable import CallboardStorage

/// The hot paths' statements are prepared once per connection, under names that keep NULLs apart,
/// and a failed preparation does not stick to its name.
@Suite struct NamedStatementTests {
    let logger = TestDatabase.logger

    /// How many statements with this text the connection has prepared, and how often they ran.
    func prepared(_ sql: String, on conn: PostgresConnection) async throws -> (statements: Int64, runs: Int64) {
        let rows = try await conn.query(
            "SELECT count(*)::int8, coalesce(sum(generic_plans + custom_plans), 0)::int8 FROM pg_prepared_statements WHERE statement = \(sql)",
            logger: logger
        ).collect()
        return try rows[0].decode((Int64, Int64).self)
    }

    func divide(_ sql: String, by divisor: Int) -> NamedStatement {
        var b = SQLBinds()
        _ = b.add(divisor)
        return b.statement(sql)
    }

    @Test func preparedOnceThenOnlyExecuted() async throws {
        try await TestDatabase.with { db, _ in
            try await db.withConnection { conn in
                let sql = "SELECT $1::int8 + 1 -- \(UUID())"
                for n in 0..<3 {
                    var b = SQLBinds()
                    _ = b.add(40 + n)
                    let rows = try await conn.run(b.statement(sql), logger: logger)
                    #expect(try rows.map { try $0.decode(Int64.self) } == [Int64(41 + n)])
                }
                let p = try await prepared(sql, on: conn)
                #expect(p.statements == 1)
                #expect(p.runs == 3)
            }
        }
    }

    /// A NULL goes untyped, so PostgreSQL takes `$1::jsonb` as a jsonb parameter; text bound under
    /// that name later would be refused. The two patterns get two names.
    @Test func nullsAndValuesGetNamesOfTheirOwn() async throws {
        try await TestDatabase.with { db, _ in
            try await db.withConnection { conn in
                let sql = "SELECT ($1::jsonb)->>'a' -- \(UUID())"
                var answers: [String?] = []
                for value in [nil, #"{"a": "x"}"#, nil, #"{"a": "y"}"#] as [String?] {
                    var b = SQLBinds()
                    _ = b.add(value)
                    answers.append(try await conn.run(b.statement(sql), logger: logger)[0].decode(String?.self))
                }
                #expect(answers == [nil, "x", nil, "y"])
                #expect(try await prepared(sql, on: conn) == (2, 4))
            }
        }
    }

    /// PostgresNIO keeps a failed preparation's error for the name on that connection; the name is
    /// retired, so the next call prepares afresh and succeeds.
    @Test func aFailedPreparationIsNotRemembered() async throws {
        try await TestDatabase.with { db, _ in
            try await db.withConnection { conn in
                let statement = NamedStatement(noNulls: PostgresQuery(unsafeSQL: "SELECT 7::int8 -- \(UUID())"))
                try await conn.query("BEGIN", logger: logger)
                await #expect(throws: PSQLError.self) { try await conn.query("SELECT 1 / 0", logger: logger) }
                // In the aborted transaction the preparation itself fails.
                await #expect(throws: PSQLError.self) { try await conn.run(statement, logger: logger) }
                try await conn.query("ROLLBACK", logger: logger)
                #expect(try await conn.run(statement, logger: logger)[0].decode(Int64.self) == 7)
                #expect(try await conn.run(statement, logger: logger)[0].decode(Int64.self) == 7)
            }
        }
    }

    /// An error raised while executing (here division by zero) leaves the prepared statement
    /// sound, so it keeps its name and no second copy is prepared.
    @Test func anExecutionErrorKeepsTheName() async throws {
        try await TestDatabase.with { db, _ in
            try await db.withConnection { conn in try await divideByZeroKeepsTheName(on: conn) }
        }
    }

    func divideByZeroKeepsTheName(on conn: PostgresConnection) async throws {
        let sql = "SELECT 1 / $1::int8 -- \(UUID())"
        #expect(try await conn.run(divide(sql, by: 1), logger: logger)[0].decode(Int64.self) == 1)
        let name = StatementNames.name(for: divide(sql, by: 1).key)
        await #expect(throws: PSQLError.self) { try await conn.run(divide(sql, by: 0), logger: logger) }
        #expect(StatementNames.name(for: divide(sql, by: 1).key) == name)
        #expect(try await conn.run(divide(sql, by: 1), logger: logger)[0].decode(Int64.self) == 1)
        #expect(try await prepared(sql, on: conn).statements == 1)
    }
}
