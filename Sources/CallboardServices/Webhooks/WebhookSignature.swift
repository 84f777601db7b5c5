import Crypto
import Foundation

/// Standard Webhooks signing: a secret `whsec_` + base64 of 32 random bytes; each delivery carries
/// `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 of
/// HMAC-SHA256("id.timestamp.body")>` keyed with the secret's decoded bytes.
public enum WebhookSignature {
    public static let prefix = "whsec_"

    public static func newSecret() -> String {
        var g = SystemRandomNumberGenerator()
        return prefix + Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &g) }).base64EncodedString()
    }

    /// The key bytes of a `whsec_` secret (nil when it is not one).
    public static func keyBytes(_ secret: String) -> Data? {
        guard secret.hasPrefix(prefix) else { return nil }
        return Data(base64Encoded: String(secret.dropFirst(prefix.count)))
    }

    public static func sign(secret: String, id: String, timestamp: Int64, body: [UInt8]) -> String? {
        guard let key = keyBytes(secret) else { return nil }
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }
}
