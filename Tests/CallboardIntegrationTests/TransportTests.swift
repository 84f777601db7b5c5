import CallboardDomain
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

@testable import CallboardServices
@testable import CallboardStorage

/// The SMTP server that scripts/test.sh starts (e2e/support/smtp_server.py, aiosmtpd).
enum TestSMTP {
    static func env(_ name: String) throws -> String {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
            throw TestSetupError("\(name) is not set: run the tests with scripts/test.sh, which starts the SMTP test server")
        }
        return v
    }

    static func settings(tls: Bool = false, password: String = "s3cret-test-password") throws -> SMTPSettings {
        SMTPSettings(
            host: "localhost", port: Int(try env(tls ? "CALLBOARD_TEST_SMTPS_PORT" : "CALLBOARD_TEST_SMTP_PORT"))!,
            security: tls ? .tls : .starttls, username: "callboard", password: password,
            caFile: try env("CALLBOARD_TEST_SMTP_CA"), timeout: .seconds(5))
    }

    /// Messages the server accepted that carry this Message-ID.
    static func received(_ messageID: String) throws -> [String] {
        let dir = try env("CALLBOARD_TEST_SMTP_DIR")
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".eml") }.compactMap {
            let text = try String(contentsOfFile: dir + "/" + $0, encoding: .utf8)
            return text.contains("Message-ID: \(messageID)\r\n") ? text : nil
        }
    }

    static func email(to: String, subject: String = "Tëst ✓ subject") -> OutgoingEmail {
        let id = UUID()
        let record = EmailRecord(
            id: id, requestID: nil, kind: "live", recipient: to, subject: subject, bodyText: ".leading dot\nline two",
            bodyHTML: "<p>Hello</p>", templateData: .object(["service_name": .string("Tax")]), dedupKey: nil,
            status: .sending, runAt: Date(), attempts: 1, maxAttempts: 8, lastError: nil,
            messageID: "<\(id.uuidString.lowercased())@callboard.test>", createdAt: Date(), sentAt: nil)
        return OutgoingEmail(record, from: "Performance Platform <pp@callboard.test>")
    }
}

/// The delivery error a send ends with, or nil when it succeeded.
func deliveryError(_ send: () async throws -> Void) async -> DeliveryError? {
    do {
        try await send()
        return nil
    } catch let e as DeliveryError { return e } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

@Suite struct SMTPTransportTests {
    let logger = TestDatabase.logger

    @Test func deliversOverSTARTTLSWithAuth() async throws {
        let t = SMTPTransport(settings: try TestSMTP.settings(), logger: logger)
        let e = TestSMTP.email(to: "ada@dvla.gov.uk")
        try await t.send(e)
        // The connection is kept and reused for the next message.
        let e2 = TestSMTP.email(to: "ada@dvla.gov.uk")
        try await t.send(e2)
        await t.shutdown()
        let got = try TestSMTP.received(e.messageID)
        #expect(got.count == 1)
        #expect(got[0].contains("X-Auth-User: callboard\r\n"))
        #expect(got[0].contains("X-Envelope-From: pp@callboard.test\r\n"))
        #expect(got[0].contains("Subject: =?UTF-8?B?\(Data("Tëst ✓ subject".utf8).base64EncodedString())?=\r\n"))
        #expect(got[0].contains("Auto-Submitted: auto-generated\r\n"))
        #expect(decodedPart(got[0], "text/plain") == ".leading dot\nline two")
        #expect(try TestSMTP.received(e2.messageID).count == 1)
    }

    @Test func deliversOverImplicitTLS() async throws {
        let t = SMTPTransport(settings: try TestSMTP.settings(tls: true), logger: logger)
        let e = TestSMTP.email(to: "grace@dvla.gov.uk")
        try await t.send(e)
        await t.shutdown()
        #expect(try TestSMTP.received(e.messageID).count == 1)
    }

    @Test func repliesDecideTemporaryOrPermanent() async throws {
        let t = SMTPTransport(settings: try TestSMTP.settings(), logger: logger)
        await #expect(throws: DeliveryError.temporary("RCPT TO: 451 4.3.0 Try again later")) {
            try await t.send(TestSMTP.email(to: "tempfail@dvla.gov.uk"))
        }
        await #expect(throws: DeliveryError.permanent("RCPT TO: 550 5.1.1 No such mailbox", badAddress: true)) {
            try await t.send(TestSMTP.email(to: "permfail@dvla.gov.uk"))
        }
        await t.shutdown()
        let wrong = SMTPTransport(settings: try TestSMTP.settings(password: "guess"), logger: logger)
        let e = await deliveryError { try await wrong.send(TestSMTP.email(to: "ada@dvla.gov.uk")) }
        guard case .permanent(let m, false)? = e else {
            Issue.record("expected permanent, got \(String(describing: e))")
            return
        }
        #expect(m.hasPrefix("AUTH PLAIN: 535"))
    }

    @Test func connectionDroppedAfterDataIsResentWithTheSameMessageID() async throws {
        let t = SMTPTransport(settings: try TestSMTP.settings(), logger: logger)
        let e = TestSMTP.email(to: "dropdata@dvla.gov.uk")
        let first = await deliveryError { try await t.send(e) }
        guard case .temporary? = first else {
            Issue.record("the first send must fail temporarily, got \(String(describing: first))")
            return
        }
        #expect(try TestSMTP.received(e.messageID).isEmpty)
        try await t.send(e)
        await t.shutdown()
        #expect(try TestSMTP.received(e.messageID).count == 1)
    }

    @Test func unreachableServerIsTemporary() async throws {
        var s = try TestSMTP.settings()
        s.port = 1  // nothing listens there
        let t = SMTPTransport(settings: s, logger: logger)
        let e = await deliveryError { try await t.send(TestSMTP.email(to: "ada@dvla.gov.uk")) }
        guard case .temporary? = e else {
            Issue.record("expected temporary, got \(String(describing: e))")
            return
        }
    }

    @Test func workerDeliversLifecycleEmailThroughSMTP() async throws {
        try await TestApp.run { app in
            try await app.requestAwaitingSignOff()
            let t = SMTPTransport(settings: try TestSMTP.settings(), logger: TestDatabase.logger)
            #expect(try await app.worker(t).runOnce() == 1)
            await t.shutdown()
            let e = try await app.emails()[0]
            #expect(e["status"] == .string("sent"))
            let got = try TestSMTP.received(e["message_id"]!.stringValue!)
            #expect(got.count == 1)
            #expect(got[0].contains("X-Envelope-To: grace@dvla.gov.uk\r\n"))
            #expect(got[0].contains("Subject: Please approve the Renew your driving licence dashboard\r\n"))
        }
    }

    @Test func dotStuffingDoublesLeadingDots() {
        #expect(MIMEMessage.dotStuffed("a\r\n.b\r\n..c\r\n.") == "a\r\n..b\r\n...c\r\n..")
    }
}

/// A local stand-in for GOV.UK Notify: checks the JWT and the body, and misbehaves by recipient.
actor NotifyStub {
    static let serviceID = "26785a09-ab16-4eb0-8407-a37497a57506"
    static let secret = "3d844edf-8d35-48ac-975b-e847b4f122b0"
    static let apiKey = "callboard_test-\(serviceID)-\(secret)"
    var accepted: [String: Data] = [:]  // reference → JSON body
    var acceptedCount: Int { accepted.count }

    func body(_ reference: String) -> [String: String] {
        guard let data = accepted[reference], let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        var out = (o["personalisation"] as? [String: String]) ?? [:]
        out["template_id"] = o["template_id"] as? String
        return out
    }
    var posts = 0
    var problems: [String] = []

    func handle(_ request: Request, body: ByteBuffer) async -> Response {
        guard let auth = request.headers[.authorization], auth.hasPrefix("Bearer "), verify(String(auth.dropFirst(7))) else {
            problems.append("bad JWT")
            return Response(status: .forbidden)
        }
        if request.method == .get {
            let ref = request.uri.queryParameters.get("reference") ?? ""
            let list = accepted[ref].map { _ in [["reference": ref, "status": "created", "id": UUID().uuidString]] } ?? []
            return json(.ok, ["notifications": list])
        }
        posts += 1
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
            let to = object["email_address"] as? String, object["template_id"] is String,
            let ref = object["reference"] as? String, let p = object["personalisation"] as? [String: String], p["subject"] != nil, p["body"] != nil
        else {
            problems.append("bad body")
            return json(.badRequest, ["errors": [["error": "ValidationError", "message": "bad body"]]])
        }
        switch to.split(separator: "@")[0] {
        case "ratelimit": return Response(status: .tooManyRequests, headers: [.retryAfter: "7"])
        case "invalid": return json(.badRequest, ["errors": [["error": "ValidationError", "message": "email_address Not a valid email address"]]])
        case "accepted500":
            accepted[ref] = Data(buffer: body)
            return Response(status: .internalServerError)
        case "lost500": return Response(status: .internalServerError)
        case "slow":
            accepted[ref] = Data(buffer: body)
            try? await Task.sleep(nanoseconds: 3_000_000_000)
            return json(.created, ["id": UUID().uuidString, "reference": ref])
        default:
            accepted[ref] = Data(buffer: body)
            return json(.created, ["id": UUID().uuidString, "reference": ref])
        }
    }

    private func json(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    private func verify(_ jwt: String) -> Bool {
        let parts = jwt.split(separator: ".").map(String.init)
        guard parts.count == 3 else { return false }
        func unb64(_ s: String) -> Data? {
            var t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while t.count % 4 != 0 { t += "=" }
            return Data(base64Encoded: t)
        }
        guard let sig = unb64(parts[2]),
            HMAC<SHA256>.isValidAuthenticationCode(
                sig, authenticating: Data((parts[0] + "." + parts[1]).utf8), using: SymmetricKey(data: Data(Self.secret.utf8))),
            let header = unb64(parts[0]).flatMap({ try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }),
            header["alg"] as? String == "HS256",
            let claims = unb64(parts[1]).flatMap({ try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }),
            claims["iss"] as? String == Self.serviceID, let iat = claims["iat"] as? Int, abs(Double(iat) - Date().timeIntervalSince1970) <= 30
        else { return false }
        return true
    }
}

@Suite struct NotifyTransportTests {
    func withStub(_ body: @Sendable @escaping (NotifyTransport, NotifyStub) async throws -> Void) async throws {
        let stub = NotifyStub()
        let router = Router()
        router.on("/v2/notifications/email", method: .post) { request, context -> Response in
            var r = request
            return await stub.handle(request, body: try await r.collectBody(upTo: 1 << 20))
        }
        router.get("/v2/notifications") { request, _ -> Response in await stub.handle(request, body: ByteBuffer()) }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestDatabase.logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let t = NotifyTransport(
                settings: NotifySettings(
                    baseURL: "http://127.0.0.1:\(port)", apiKey: NotifyStub.apiKey,
                    templates: ["default": "f33517ff-2a88-4f6e-b855-c550268ce08a"], timeout: .seconds(1)),
                logger: TestDatabase.logger)
            try await body(t, stub)
        }
    }

    @Test func sendsWithAValidJWTAndReference() async throws {
        try await withStub { t, stub in
            let e = TestSMTP.email(to: "ada@dvla.gov.uk")
            try await t.send(e)
            let sent = await stub.body(e.id.uuidString.lowercased())
            #expect(sent["template_id"] == "f33517ff-2a88-4f6e-b855-c550268ce08a")
            #expect(sent["service_name"] == "Tax")
            #expect(sent["subject"] == "Tëst ✓ subject")
            #expect(await stub.problems == [])
        }
    }

    @Test func errorsAreClassified() async throws {
        try await withStub { t, stub in
            await #expect(throws: DeliveryError.rateLimited(retryAfter: 7, "Notify rate limit: ")) {
                try await t.send(TestSMTP.email(to: "ratelimit@x.gov.uk"))
            }
            let invalid = await deliveryError { try await t.send(TestSMTP.email(to: "invalid@x.gov.uk")) }
            guard case .permanent(_, true)? = invalid else {
                Issue.record("expected permanent bad address, got \(String(describing: invalid))")
                return
            }
            let lost = await deliveryError { try await t.send(TestSMTP.email(to: "lost500@x.gov.uk")) }
            guard case .temporary? = lost else {
                Issue.record("expected temporary, got \(String(describing: lost))")
                return
            }
            #expect(await stub.problems == [])
        }
    }

    /// A 500 or a timeout after Notify accepted the email: the look-up by reference finds it, nothing is resent.
    @Test func uncertainOutcomesAreLookedUpNotResent() async throws {
        try await withStub { t, stub in
            try await t.send(TestSMTP.email(to: "accepted500@x.gov.uk"))
            try await t.send(TestSMTP.email(to: "slow@x.gov.uk"))
            #expect(await stub.posts == 2)
            #expect(await stub.acceptedCount == 2)
        }
    }

    @Test func apiKeyPartsAreReadFromTheEnd() {
        let s = NotifySettings(apiKey: NotifyStub.apiKey, templates: [:])
        #expect(s.serviceID == NotifyStub.serviceID)
        #expect(s.secret == NotifyStub.secret)
    }
}

@Suite struct MIMEMessageTests {
    @Test func datesAreRFC5322() {
        #expect(MIMEMessage.rfc5322Date(Date(timeIntervalSince1970: 1_795_000_000)) == "Wed, 18 Nov 2026 11:06:40 +0000")
        #expect(MIMEMessage.rfc5322Date(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
    }

    @Test func addressesAndEncodedWords() {
        #expect(MIMEMessage.address("GOV.UK Performance Platform <pp@x.gov.uk>") == "pp@x.gov.uk")
        #expect(MIMEMessage.address("pp@x.gov.uk") == "pp@x.gov.uk")
        #expect(MIMEMessage.encodeWord("plain") == "plain")
        #expect(MIMEMessage.encodeWord("é") == "=?UTF-8?B?w6k=?=")
    }

    /// The body's base64 split by hand into 76-character lines (RFC 2045 §6.8), for every length
    /// from empty to a few lines, multi-byte text included: the rendering must match it exactly.
    @Test func base64BodiesAreSeventySixCharacterLines() {
        for n in 0...400 {
            let text = String(repeating: "aé€", count: n / 3) + String(repeating: "z", count: n % 3)
            let whole = Array(Data(text.utf8).base64EncodedString())
            let lines = stride(from: 0, to: whole.count, by: 76).map { String(whole[$0..<min($0 + 76, whole.count)]) }
            var out: [UInt8] = []
            MIMEMessage.appendBase64Lines(text, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == lines.map { $0 + "\r\n" }.joined(), "length \(n)")
        }
    }

    @Test func aRenderedMessageNeedsNoDotStuffingAndOneWithDotsGetsIt() {
        var email = TestSMTP.email(to: "a@x.gov.uk", subject: ".starts with a dot")
        email.text = ".\r\n.\n.."
        email.html = "<p>.</p>"
        let message = MIMEMessage.render(email)
        #expect(MIMEMessage.dotStuffed(message) == message)
        #expect(message.components(separatedBy: "\r\n").allSatisfy { !$0.hasPrefix(".") })
        #expect(MIMEMessage.dotStuffed(".a\r\nb\r\n.") == "..a\r\nb\r\n..")
        #expect(MIMEMessage.dotStuffed("a\r\nb.\r\nc") == "a\r\nb.\r\nc")
    }
}
