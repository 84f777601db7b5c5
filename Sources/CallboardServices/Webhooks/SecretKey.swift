import CallboardDomain
import CallboardStorage
import Crypto
import Foundation

/// The key that seals secrets Callboard must use again (webhook signing secrets): AES-256-GCM,
/// read from the file `CALLBOARD_SECRET_KEY_FILE` names (base64 of 32 random bytes). Its id (the
/// first 8 bytes of its SHA-256, hex) is stored beside each sealed secret, so a secret sealed with
/// another key is recognised rather than mistaken for a damaged one.
public struct SecretKey: Sendable {
    let key: SymmetricKey
    public let id: String

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Base64 of exactly 32 bytes; whitespace around it (a trailing newline) is ignored.
    public init(base64: String) throws(Invalid) {
        guard let bytes = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32 else {
            throw Invalid(description: "the secret key must be base64 of 32 bytes (make one with: head -c 32 /dev/urandom | base64)")
        }
        key = SymmetricKey(data: bytes)
        id = SHA256.hash(data: bytes).prefix(8).hexString
    }

    public static func load(file path: String) throws(Invalid) -> SecretKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Invalid(description: "cannot read the secret key file \(path)")
        }
        do { return try SecretKey(base64: text) } catch { throw Invalid(description: "\(path): \(String(describing: error))") }
    }

    /// Seals `plaintext`, bound to `context` (the row's id), so a sealed value copied to another row does not open.
    public func seal(_ plaintext: String, context: UUID) throws -> SealedSecret {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: key, authenticating: Data(context.uuidString.lowercased().utf8))
        guard let combined = box.combined else { throw Invalid(description: "AES-GCM gave no combined box") }
        return SealedSecret(ciphertext: Array(combined), keyID: id)
    }

    public func open(_ sealed: SealedSecret, context: UUID) throws(Invalid) -> String {
        guard sealed.keyID == id else {
            throw Invalid(
                description: "the secret was sealed with key \(sealed.keyID), not with the configured key \(id) "
                    + "(run `callboard admin rotate-secret-key`; see docs/security.md)")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: Data(sealed.ciphertext))
            let plain = try AES.GCM.open(box, using: key, authenticating: Data(context.uuidString.lowercased().utf8))
            return String(decoding: plain, as: UTF8.self)
        } catch {
            throw Invalid(description: "the sealed secret does not open with key \(id)")
        }
    }
}
