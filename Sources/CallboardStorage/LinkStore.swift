import CallboardDomain
import Crypto
import Foundation
import Logging
import PostgresNIO

public enum LinkPurpose: String, Sendable {
    case signOff = "sign_off"
    case contact
    case upload
}

/// A link as stored (the token itself is only ever in the email).
public struct LinkRecord: Sendable, Equatable {
    public var id: UUID
    public var purpose: LinkPurpose
    public var requestID: UUID
    public var email: String
    public var requestVersion: Int
    public var csrf: String
    public var createdAt: Date
    public var expiresAt: Date
    /// For upload links: the data set.
    public var dataSetID: UUID?
}

/// A new link. It has no token yet: the email carries `placeholder`, and the worker mints a token
/// for it when the email is sent (`LinkTokenStore`), so no usable secret is ever stored.
public struct NewLink: Sendable {
    public var record: LinkRecord

    public init(purpose: LinkPurpose, requestID: UUID, email: String, requestVersion: Int, at now: Date, expiresAt: Date, dataSetID: UUID? = nil) {
        record = LinkRecord(
            id: UUID(), purpose: purpose, requestID: requestID, email: email, requestVersion: requestVersion,
            csrf: NewLink.random(), createdAt: now, expiresAt: expiresAt, dataSetID: dataSetID)
    }

    /// What the email holds in place of the token until it is sent.
    public var placeholder: String { LinkPlaceholder.text(for: record.id) }

    /// 256 random bits, base64url: four draws from the system generator (one `getrandom` each;
    /// drawing byte by byte made 32).
    public static func random() -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for _ in 0..<4 { withUnsafeBytes(of: rng.next() as UInt64) { bytes.append(contentsOf: $0) } }
        return bytes.base64URLString
    }
}

public enum LinkStore {
    public static func hash(_ token: String) -> ByteBuffer { ByteBuffer(bytes: SHA256.hash(data: Data(token.utf8))) }

    public static func insert(_ link: NewLink, on conn: PostgresConnection, logger: Logger) async throws {
        try await insertMany([link], on: conn, logger: logger)
    }

    /// Inserts links in one statement.
    public static func insertMany(_ links: [NewLink], on conn: PostgresConnection, logger: Logger) async throws {
        guard !links.isEmpty else { return }
        // One array a column, so the text is the same for any count; '' stands for no data set.
        var b = SQLBinds()
        let r = links.map(\.record)
        let sql = """
            INSERT INTO links (id, purpose, request_id, email, request_version, csrf, created_at, expires_at, data_set_id)
            SELECT u.id, u.purpose, u.request_id, u.email, u.request_version, u.csrf, u.created_at, u.expires_at, nullif(u.data_set_id, '')::uuid
            FROM unnest(\(b.add(r.map(\.id)))::uuid[], \(b.add(r.map(\.purpose.rawValue)))::text[], \(b.add(r.map(\.requestID)))::uuid[],
                        \(b.add(r.map(\.email)))::text[], \(b.add(r.map(\.requestVersion)))::int[], \(b.add(r.map(\.csrf)))::text[],
                        \(b.add(r.map(\.createdAt)))::timestamptz[], \(b.add(r.map(\.expiresAt)))::timestamptz[],
                        \(b.add(r.map { $0.dataSetID?.lowercasedString ?? "" }))::text[])
                 AS u(id, purpose, request_id, email, request_version, csrf, created_at, expires_at, data_set_id)
            """
        _ = try await conn.run(b.statement(sql), logger: logger)
    }

    /// The link a token names (expired ones too: the page says so), looked up by hash.
    public static func find(token: String, on client: PostgresClient, logger: Logger) async throws -> LinkRecord? {
        let rows = try await client.query(
            """
            SELECT l.id, l.purpose, l.request_id, l.email, l.request_version, l.csrf, l.created_at, l.expires_at, l.data_set_id
            FROM link_tokens t JOIN links l ON l.id = t.link_id
            WHERE t.token_hash = \(hash(token))
            """, logger: logger)
        for try await (id, purpose, rid, email, version, csrf, created, expires, ds) in rows.decode(
            (UUID, String, UUID, String, Int, String, Date, Date, UUID?).self)
        {
            guard let purpose = LinkPurpose(rawValue: purpose) else { return nil }
            return LinkRecord(
                id: id, purpose: purpose, requestID: rid, email: email, requestVersion: version,
                csrf: csrf, createdAt: created, expiresAt: expires, dataSetID: ds)
        }
        return nil
    }
}
