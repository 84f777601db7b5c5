import Logging
import PostgresNIO
import Synchronization

/// A statement for the hot paths (token lookup, the locking read, a transition's settle
/// statement, a create), sent as a named prepared statement: each connection parses it once and
/// then only binds and executes it. An unnamed statement is parsed again on every call, and for
/// the settle statement parsing cost more than executing (docs/performance.md).
///
/// Its name stands for its text and for which of its values are NULL: PostgresNIO sends a NULL
/// untyped, so PostgreSQL infers that parameter's type from the text (`$5::jsonb` makes it
/// `jsonb`), and a later call binding a `String` there would not match what was prepared.
public struct NamedStatement: Sendable {
    var query: PostgresQuery
    var key: String

    /// `query` must bind no NULL (an optional that is nil): build those with `SQLBinds.statement`.
    init(noNulls query: PostgresQuery) {
        self.query = query
        self.key = query.sql
    }

    init(_ query: PostgresQuery, nulls: String) {
        self.query = query
        self.key = nulls.isEmpty ? query.sql : nulls + "\u{0}" + query.sql
    }
}

/// The names given so far, one per key, process-wide (PostgresNIO prepares a name on each
/// connection the first time that connection runs it).
enum StatementNames {
    /// Beyond this many texts, statements go unnamed: a bound on what each connection keeps prepared.
    static let limit = 400

    private static let state = Mutex<(names: [String: String], next: Int)>(([:], 1))

    static func name(for key: String) -> String? {
        state.withLock { s in
            if let name = s.names[key] { return name }
            guard s.names.count < limit else { return nil }
            let name = "callboard_\(s.next)"
            s.next += 1
            s.names[key] = name
            return name
        }
    }

    /// After an error that may have come from the preparation the key gets a new name. PostgresNIO
    /// remembers a failed preparation on its connection for good (in an aborted transaction, say),
    /// so the old name could fail forever.
    static func retire(_ key: String, name: String) {
        state.withLock { s in
            if s.names[key] == name { s.names[key] = nil }
        }
    }

    static var count: Int { state.withLock { $0.names.count } }

    /// Errors that only executing can raise keep the name: retiring on a unique violation or a
    /// serialization failure would leave one more prepared statement on every connection each time.
    /// Integrity (23), data (22), rollback (40), lock (55), cancel and timeout (57), raised (P0).
    static func mayHaveFailedPreparing(_ error: any Error) -> Bool {
        guard let state = (error as? PSQLError)?.serverInfo?[.sqlState] else { return true }
        return !["23", "22", "40", "55", "57", "P0"].contains(String(state.prefix(2)))
    }
}

/// The one `PostgresPreparedStatement` type behind every `NamedStatement`: PostgresNIO reads a
/// prepared statement's name and text from its type, so they come from a task-local set around the call.
struct TaskLocalPreparedStatement: PostgresPreparedStatement {
    typealias Row = PostgresRow
    @TaskLocal static var current = (name: "", sql: "")
    static var name: String { current.name }
    static var sql: String { current.sql }

    var bindings: PostgresBindings
    func makeBindings() -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

extension PostgresConnection {
    /// Runs `statement` by its name (unnamed once `StatementNames.limit` texts have names) and reads every row.
    func run(_ statement: NamedStatement, logger: Logger) async throws -> [PostgresRow] {
        guard let name = StatementNames.name(for: statement.key) else {
            return try await query(statement.query, logger: logger).collect()
        }
        do {
            return try await TaskLocalPreparedStatement.$current.withValue((name, statement.query.sql)) {
                var rows: [PostgresRow] = []
                for try await row in try await execute(TaskLocalPreparedStatement(bindings: statement.query.binds), logger: logger) {
                    rows.append(row)
                }
                return rows
            }
        } catch {
            if StatementNames.mayHaveFailedPreparing(error) { StatementNames.retire(statement.key, name: name) }
            throw error
        }
    }
}

extension PostgresClient {
    /// `PostgresConnection.run` on a connection from the pool.
    func run(_ statement: NamedStatement, logger: Logger) async throws -> [PostgresRow] {
        try await withConnection { try await $0.run(statement, logger: logger) }
    }
}
