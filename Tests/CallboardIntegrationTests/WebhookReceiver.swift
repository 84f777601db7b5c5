import CallboardDomain
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// A real HTTP receiver on an ephemeral loopback port: it records every POST to `/hook`, verifies
/// its Standard Webhooks signature with the secret it is given, and answers as scripted.
final class WebhookReceiver: Sendable {
    struct Hit: Sendable {
        var id: String
        var timestamp: String
        var signature: String
        var contentType: String
        var body: String
        /// Whether the signature verified with the secret known at the time.
        var verified: Bool
    }

    let hits = Mutex<[Hit]>([])
    /// The secrets signatures are checked with (added as webhooks are created); one must verify.
    let secrets = Mutex<[String]>([])
    /// Answers by the number of times that webhook-id was seen before (0: first), else `otherwise`.
    let answers = Mutex<[Int: Int]>([:])
    let otherwise = Mutex<Int>(200)
    /// While set, a request is held (not answered) until it is cleared: a worker killed mid-delivery.
    let holding = Mutex<Bool>(false)

    var received: [Hit] { hits.withLock { $0 } }

    /// Verifies `v1,<base64 HMAC-SHA256(id.timestamp.body)>` keyed with the secret's decoded bytes.
    static func verify(secret: String, id: String, timestamp: String, body: [UInt8], signature: String) -> Bool {
        guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))), key.count == 32 else { return false }
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        let mac = Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))).base64EncodedString()
        // The header may list several signatures separated by spaces.
        return signature.split(separator: " ").contains { $0 == "v1,\(mac)" }
    }

    /// Runs `body` with the receiver listening; its argument is the hook's URL.
    func run(_ body: @Sendable @escaping (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/hook") { request, context -> Response in
            var request = request
            let bytes = Array(buffer: try await request.collectBody(upTo: 1_048_576))
            let h = request.headers
            let id = h[HTTPField.Name("webhook-id")!] ?? ""
            let ts = h[HTTPField.Name("webhook-timestamp")!] ?? ""
            let sig = h[HTTPField.Name("webhook-signature")!] ?? ""
            let ok = self.secrets.withLock { $0 }.contains { Self.verify(secret: $0, id: id, timestamp: ts, body: bytes, signature: sig) }
            let seen = self.hits.withLock { hits in
                defer {
                    hits.append(
                        Hit(
                            id: id, timestamp: ts, signature: sig, contentType: h[.contentType] ?? "", body: String(decoding: bytes, as: UTF8.self),
                            verified: ok))
                }
                return hits.filter { $0.id == id }.count
            }
            for _ in 0..<6000 where self.holding.withLock({ $0 }) { try? await Task.sleep(nanoseconds: 10_000_000) }
            let status = self.answers.withLock { $0[seen] } ?? self.otherwise.withLock { $0 }
            return Response(status: .init(code: status))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            defer { self.holding.withLock { $0 = false } }
            try await body("http://127.0.0.1:\(client.port!)/hook")
        }
    }
}
