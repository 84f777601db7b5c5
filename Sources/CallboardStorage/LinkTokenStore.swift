import CallboardDomain
import Crypto
import Foundation
import Logging
import PostgresNIO

/// What an email holds for a link until it is sent: `cblink_` and the link id's 32 hex digits.
/// It names a link but opens nothing: only a token minted at send time does.
public enum LinkPlaceholder {
    static let prefix = "cblink_"

    public static func text(for id: UUID) -> String {
        prefix + withUnsafeBytes(of: id.uuid) { $0.hexString }
    }

    /// The link ids named in `texts`, each once, in order of first appearance.
    public static func ids(in texts: [String]) -> [UUID] {
        var seen = Set<UUID>()
        var out: [UUID] = []
        for text in texts {
            _ = rewrite(text) { id in
                if seen.insert(id).inserted { out.append(id) }
                return nil
            }
        }
        return out
    }

    /// `text` with each placeholder replaced by its minted token, or by `redacted` when it has none.
    public static func substitute(_ text: String, tokens: [UUID: String]) -> String {
        rewrite(text) { tokens[$0] ?? "redacted" }
    }

    /// `text` as staff may read it: every link's secret part shown as `redacted`.
    public static func redact(_ text: String) -> String { substitute(text, tokens: [:]) }

    /// `text` with every `cblink_` broken up as `cblink-`, so nothing in it reads as a placeholder.
    public static func neutralise(_ text: String) -> String {
        holdsPrefix(text) ? text.replacingOccurrences(of: prefix, with: "cblink-") : text
    }

    /// Whether `text` holds `cblink_`: memchr to each `c` of its bytes, memcmp there. Most texts
    /// hold none, and Foundation's search cost more than the rest of rendering an email.
    public static func holdsPrefix(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            prefixBytes.withUnsafeBytes { p in
                guard bytes.count >= p.count, let start = UnsafeRawPointer(bytes.baseAddress) else { return false }
                let end = start + bytes.count
                var at = start
                while end - at >= p.count, let c = memchr(at, Int32(p[0]), end - at - p.count + 1) {
                    if memcmp(c, p.baseAddress!, p.count) == 0 { return true }
                    at = UnsafeRawPointer(c) + 1
                }
                return false
            }
        }
    }

    static let prefixBytes = Array(prefix.utf8)

    /// One forward scan: each placeholder is passed to `replacement` (nil keeps it as it is).
    static func rewrite(_ text: String, _ replacement: (UUID) -> String?) -> String {
        guard holdsPrefix(text) else { return text }
        var out = ""
        var rest = text[...]
        while let r = rest.range(of: prefix) {
            out += rest[..<r.lowerBound]
            let hex = rest[r.upperBound...].prefix(32)
            if hex.count == 32, let id = uuid(hex: hex) {
                out += replacement(id) ?? (prefix + hex)
                rest = rest[hex.endIndex...]
            } else {
                out += prefix
                rest = rest[r.upperBound...]
            }
        }
        return out + rest
    }

    static func uuid(hex: Substring) -> UUID? {
        guard hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        let h = Array(hex)
        let dashed = String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
        return UUID(uuidString: dashed)
    }
}

/// Tokens minted for links at send time; only their SHA-256 is stored.
public enum LinkTokenStore {
    /// One token to mint: for `linkID`, carried by email `emailID`.
    public struct Minted: Sendable, Hashable {
        public var emailID: UUID
        public var linkID: UUID
        public var token: String
        public init(emailID: UUID, linkID: UUID, token: String) {
            self.emailID = emailID
            self.linkID = linkID
            self.token = token
        }
    }

    /// Stores the hashes of `tokens` (autocommit, before the email leaves) and returns those stored:
    /// a token is only minted for a link that belongs to the email's own recipient (a page link's
    /// person, or a sign-in link's staff member), so text that imitates a placeholder gets nothing.
    public static func mint(_ tokens: [Minted], at now: Date, on client: PostgresClient, logger: Logger) async throws -> [Minted] {
        guard !tokens.isEmpty else { return [] }
        let hashes = tokens.map { SHA256.hash(data: Data($0.token.utf8)).hexString }
        let rows = try await client.run(
            NamedStatement(
                noNulls: """
                    WITH input AS (
                        SELECT * FROM unnest(\(hashes), \(tokens.map(\.linkID)), \(tokens.map(\.emailID))) AS t(hash_hex, link_id, email_id)
                    )
                    INSERT INTO link_tokens (token_hash, link_id, email_id, created_at)
                    SELECT decode(i.hash_hex, 'hex'), i.link_id, i.email_id, \(now)
                    FROM input i JOIN emails e ON e.id = i.email_id
                    WHERE EXISTS (SELECT 1 FROM links l WHERE l.id = i.link_id AND lower(l.email) = lower(e.recipient))
                       OR EXISTS (SELECT 1 FROM staff_sign_in_links s JOIN staff st ON st.id = s.staff_id
                                  WHERE s.id = i.link_id AND lower(st.email) = lower(e.recipient))
                       OR EXISTS (SELECT 1 FROM application_links a WHERE a.id = i.link_id AND lower(a.email) = lower(e.recipient))
                    RETURNING encode(token_hash, 'hex')
                    """), logger: logger)
        let stored = Set(try rows.map { try $0.decode(String.self) })
        return zip(tokens, hashes).filter { stored.contains($0.1) }.map(\.0)
    }
}
