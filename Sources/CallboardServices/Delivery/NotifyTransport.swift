import AsyncHTTPClient
import CallboardDomain
import Crypto
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

public struct NotifySettings: Sendable {
    public var baseURL: String
    public var apiKey: String
    /// Notify template id per email kind; `default` is used for kinds without their own.
    public var templates: [String: String]
    public var timeout: TimeAmount

    public init(
        baseURL: String = "https://api.notifications.service.gov.uk", apiKey: String, templates: [String: String],
        timeout: TimeAmount = .seconds(15)
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.templates = templates
        self.timeout = timeout
    }

    /// `{key_name}-{service_id}-{secret}`: both ids are UUIDs at the end of the key.
    var serviceID: String { String(apiKey.dropLast(37).suffix(36)) }
    var secret: String { String(apiKey.suffix(36)) }
}

/// GOV.UK Notify REST API. The email's id is the `reference`; when a send times out or Notify
/// answers 5xx, the reference is looked up before anything is resent.
public struct NotifyTransport: EmailTransport {
    public let settings: NotifySettings
    let client: HTTPClient
    let logger: Logger
    public var name: String { "notify" }

    public init(settings: NotifySettings, client: HTTPClient = .shared, logger: Logger) {
        self.settings = settings
        self.client = client
        self.logger = logger
    }

    public func send(_ email: OutgoingEmail) async throws(DeliveryError) {
        guard let template = settings.templates[email.kind] ?? settings.templates["default"] else {
            throw .permanent("no Notify template id configured for \(email.kind)", badAddress: false)
        }
        var personalisation = email.templateData
        personalisation["subject"] = email.subject
        personalisation["body"] = email.text
        let body: JSONValue = .object([
            "email_address": .string(email.to), "template_id": .string(template),
            "personalisation": .object(personalisation.mapValues(JSONValue.string)),
            "reference": .string(email.id.lowercasedString),
        ])
        var request = HTTPClientRequest(url: settings.baseURL + "/v2/notifications/email")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer " + jwt())
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "callboard")
        request.body = .bytes(ByteBuffer(bytes: body.serialized()))

        let status: UInt
        let text: String
        let retryAfter: Double?
        do {
            let response = try await client.execute(request, timeout: settings.timeout)
            status = response.status.code
            retryAfter = response.headers.first(name: "Retry-After").flatMap(Double.init)
            text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        } catch {
            // Timed out or lost: Notify may have accepted it. Look before resending.
            if try await alreadyAccepted(email) { return }
            throw .temporary("Notify did not answer: \(error)")
        }
        switch status {
        case 200..<300: return
        case 429: throw .rateLimited(retryAfter: retryAfter ?? 60, "Notify rate limit: \(text.prefix(300))")
        case 400:
            let badAddress = text.contains("email_address")
            throw .permanent("Notify rejected the email: \(text.prefix(300))", badAddress: badAddress)
        case 403: throw .permanent("Notify refused the API key (check the key and the clock): \(text.prefix(300))", badAddress: false)
        case 500..<600:
            if try await alreadyAccepted(email) { return }
            throw .temporary("Notify answered \(status): \(text.prefix(300))")
        default: throw .temporary("Notify answered \(status): \(text.prefix(300))")
        }
    }

    /// Whether Notify already holds a notification with this email's reference.
    func alreadyAccepted(_ email: OutgoingEmail) async throws(DeliveryError) -> Bool {
        var request = HTTPClientRequest(url: settings.baseURL + "/v2/notifications?reference=" + email.id.lowercasedString)
        request.headers.add(name: "Authorization", value: "Bearer " + jwt())
        do {
            let response = try await client.execute(request, timeout: settings.timeout)
            let data = try await response.body.collect(upTo: 1 << 20)
            guard response.status.code == 200,
                let list = (try? JSONValue.parse(Array(buffer: data)))?["notifications"]?.arrayValue
            else { throw DeliveryError.temporary("Notify look-up answered \(response.status.code)") }
            return !list.isEmpty
        } catch let e as DeliveryError {
            throw e
        } catch {
            throw .temporary("Notify look-up failed: \(error)")
        }
    }

    /// HS256 JWT with `iss` = service id and `iat` = now; a fresh one per request.
    func jwt(now: Date = Date()) -> String {
        func b64url(_ d: Data) -> String {
            d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let header = b64url(Data(#"{"typ":"JWT","alg":"HS256"}"#.utf8))
        let claims = b64url(Data(#"{"iss":"\#(settings.serviceID)","iat":\#(Int(now.timeIntervalSince1970))}"#.utf8))
        let signingInput = header + "." + claims
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(settings.secret.utf8)))
        return signingInput + "." + b64url(Data(mac))
    }

    public func shutdown() async {}
}
