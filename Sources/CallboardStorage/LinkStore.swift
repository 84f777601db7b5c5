import Crypto
import Foundation
import Logging
import PostgresNIO

public enum LinkPurpose: String, Sendable {
    case signOff = "sign_off"
    case contact
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
}

/// A new link and the token to put in the email.
public struct NewLink: Sendable {
    public var record: LinkRecord
    public var token: String

    public init(purpose: LinkPurpose, requestID: UUID, email: String, requestVersion: Int, at now: Date, expiresAt: Date) {
        token = NewLink.random()
        record = LinkRecord(id: UUID(), purpose: purpose, requestID: requestID, email: email, requestVersion: requestVersion,
                            csrf: NewLink.random(), createdAt: now, expiresAt: expiresAt)
    }

    /// 256 random bits, base64url.
    public static func random() -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

public enum LinkStore {
    public static func hash(_ token: String) -> ByteBuffer { ByteBuffer(bytes: SHA256.hash(data: Data(token.utf8))) }

    public static func insert(_ link: NewLink, on conn: PostgresConnection, logger: Logger) async throws {
        let r = link.record
        try await conn.query("""
            INSERT INTO links (id, token_hash, purpose, request_id, email, request_version, csrf, created_at, expires_at)
            VALUES (\(r.id), \(hash(link.token)), \(r.purpose.rawValue), \(r.requestID), \(r.email), \(r.requestVersion), \(r.csrf),
                    \(r.createdAt), \(r.expiresAt))
            """, logger: logger)
    }

    /// The link a token names (expired ones too: the page says so), looked up by hash.
    public static func find(token: String, on client: PostgresClient, logger: Logger) async throws -> LinkRecord? {
        let rows = try await client.query("""
            SELECT id, purpose, request_id, email, request_version, csrf, created_at, expires_at FROM links WHERE token_hash = \(hash(token))
            """, logger: logger)
        for try await (id, purpose, rid, email, version, csrf, created, expires) in rows.decode((UUID, String, UUID, String, Int, String, Date, Date).self) {
            return LinkRecord(id: id, purpose: LinkPurpose(rawValue: purpose) ?? .signOff, requestID: rid, email: email, requestVersion: version,
                              csrf: csrf, createdAt: created, expiresAt: expires)
        }
        return nil
    }
}
