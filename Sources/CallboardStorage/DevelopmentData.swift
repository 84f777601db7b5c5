import Foundation
import Logging
import PostgresNIO

/// The development commands (`seed`, and the hidden `bench-scheduler` and `probe`) write to, or
/// load, whatever DATABASE_URL names. Each refuses a database that holds requests it did not
/// create, unless given `--force`, so that pointing one at a real database by mistake changes
/// nothing there.
///
/// How a command recognises its own requests:
/// - `seed` creates its requests through `RequestService` as `seed@callboard.local`, so their
///   `created` event carries that actor id. Only the API creates requests in Callboard itself, and
///   it records the staff member by their id (a UUID), so no other request carries it.
/// - `bench-scheduler` puts every request it makes (one through the service, the rest copied from
///   it in SQL, without events) in the department `Bench`.
/// - `probe` creates no requests: any request at all is someone else's.
public struct DevelopmentData: Sendable, Equatable {
    /// The command, as the refusal names it.
    public var command: String
    /// Requests whose `created` event carries this actor id are the command's own.
    public var createdBy: String?
    /// Requests in this department are the command's own.
    public var department: String?

    public init(command: String, createdBy: String? = nil, department: String? = nil) {
        self.command = command
        self.createdBy = createdBy
        self.department = department
    }

    /// `callboard seed`'s requests.
    public static let seed = DevelopmentData(command: "seed", createdBy: "seed@callboard.local")
    /// `callboard bench-scheduler`'s requests.
    public static let benchScheduler = DevelopmentData(command: "bench-scheduler", department: "Bench")
    /// `callboard probe` makes none.
    public static let probe = DevelopmentData(command: "probe")

    /// Requests in the database that the command did not create.
    public func foreignRequests(on db: PostgresClient, logger: Logger) async throws -> Int {
        let rows = try await db.query(
            """
            SELECT count(*)::int8 FROM requests r
            WHERE NOT (
                (\(department)::text IS NOT NULL AND r.department = \(department)::text)
                OR (\(createdBy)::text IS NOT NULL AND EXISTS (
                    SELECT 1 FROM request_events e
                    WHERE e.request_id = r.id AND e.kind = 'created' AND e.actor_id = \(createdBy)::text)))
            """, logger: logger)
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }

    /// Marks `cancelled` every email still queued for one of the command's requests (directly, or
    /// through a reminder digest covering one), so that back-dated history never reaches a real
    /// outbox; returns how many. Only for a command that knows its requests by `createdBy`.
    public func cancelQueuedEmails(at now: Date, on db: PostgresClient, logger: Logger) async throws -> Int {
        guard let createdBy else { return 0 }
        let rows = try await db.query(
            """
            WITH own AS (
                SELECT request_id FROM request_events WHERE kind = 'created' AND actor_id = \(createdBy)
            )
            UPDATE emails SET status = 'cancelled', updated_at = \(now)
            WHERE status = 'queued' AND (
                request_id IN (SELECT request_id FROM own)
                OR id IN (SELECT re.email_id FROM reminder_emails re JOIN reminders m ON m.dedup_key = re.reminder_key
                          WHERE m.request_id IN (SELECT request_id FROM own)))
            RETURNING id
            """, logger: logger)
        var n = 0
        for try await _ in rows { n += 1 }
        return n
    }

    /// Throws `ForeignDataRefused` when the database holds requests the command did not create,
    /// unless `force`. Reads only.
    public func requireOwnData(force: Bool, database: String, on db: PostgresClient, logger: Logger) async throws {
        guard !force else { return }
        let foreign = try await foreignRequests(on: db, logger: logger)
        guard foreign == 0 else { throw ForeignDataRefused(command: command, database: database, foreignRequests: foreign) }
    }
}

/// A development command refused a database holding requests it did not create.
public struct ForeignDataRefused: Error, Sendable, Equatable, CustomStringConvertible {
    public var command: String
    /// The database, without its password.
    public var database: String
    public var foreignRequests: Int

    public init(command: String, database: String, foreignRequests: Int) {
        self.command = command
        self.database = database
        self.foreignRequests = foreignRequests
    }

    public var description: String {
        "refusing to run `callboard \(command)`: \(database) holds \(foreignRequests) "
            + "\(foreignRequests == 1 ? "request" : "requests") it did not create, so it may be a real database. "
            + "Nothing was written. Point DATABASE_URL (or --database-url) at a development database, "
            + "or pass --force to run there anyway."
    }
}
