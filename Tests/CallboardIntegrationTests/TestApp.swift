import CallboardDomain
import CallboardHTTP
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Testing

/// A running application on its own database, with an admin token ready.
struct TestApp: Sendable {
    let db: PostgresClient
    let clock: TestClock
    let client: any TestClientProtocol
    let catalog: RouteCatalog
    let adminToken: String
    let staff: StaffService
    /// The metrics listener's router (`serve` runs it on its own port), over the app's registry and clock.
    let metricsResponder: RouterResponder<BasicRequestContext>

    /// Runs `body` against the router (in-process); `.live` when a real socket is wanted.
    /// `webhooks`: by default the test key (`TestApp.secretKey`), http and private targets allowed
    /// (the test's receiver listens on 127.0.0.1).
    static func run(
        _ mode: TestingSetup = .router, tracing: Bool = false, webhooks: WebhookSettings = TestApp.webhookSettings,
        logger: Logger = TestDatabase.logger, _ body: @Sendable @escaping (TestApp) async throws -> Void
    ) async throws {
        try await TestDatabase.with { db, _ in
            let clock = TestClock()
            let catalog = RouteCatalog()
            let metrics = HTTPMetrics()
            let deps = AppDependencies(
                db: db, time: clock, logger: logger, metrics: metrics, catalog: catalog, tracing: tracing, webhooks: webhooks)
            let staff = StaffService(db: db, time: clock, logger: logger)
            let admin = try await staff.createStaff(email: "admin@callboard.test", name: "Admin", role: .admin)
            let token = try await staff.createToken(for: admin, name: "test", expiresAt: nil).token
            let app = Application(
                router: try buildRouter(deps), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                logger: logger)
            try await app.test(mode) { client in
                try await body(
                    TestApp(
                        db: db, clock: clock, client: client, catalog: catalog, adminToken: token, staff: staff,
                        metricsResponder: buildMetricsRouter(deps).buildResponder()))
            }
        }
    }

    /// The tests' key for sealing webhook secrets (a fresh one each test process).
    static let secretKeyBase64 = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    static let secretKey = try! SecretKey(base64: secretKeyBase64)
    static let webhookSettings = WebhookSettings(secretKey: secretKey, allowHTTP: true, allowPrivate: true)

    /// `path` (by default `GET /metrics`) on the metrics listener.
    func scrapeMetrics(_ path: String = "/metrics") async throws -> TestResponse {
        try await Application(responder: metricsResponder).test(.router) { client in
            let r = try await client.execute(uri: path, method: .get)
            return TestResponse(status: r.status, headers: r.headers, body: Array(buffer: r.body))
        }
    }

    /// A token for a new staff member with `role`.
    func token(role: StaffRole, email: String? = nil) async throws -> String {
        let s = try await staff.createStaff(email: email ?? "\(role.rawValue)-\(UUID().uuidString.prefix(8))@callboard.test", name: "", role: role)
        return try await staff.createToken(for: s, name: "test", expiresAt: nil).token
    }

    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: JSONValue? = nil, raw: String? = nil,
        headers: HTTPFields = [:], contentType: String = "application/json"
    ) async throws -> TestResponse {
        var h = headers
        let t = token ?? adminToken
        if !t.isEmpty { h[.authorization] = "Bearer \(t)" }
        var body: ByteBuffer?
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys  // a retry sends the same bytes, as real clients do
            body = ByteBuffer(bytes: try encoder.encode(json))
        } else if let raw {
            body = ByteBuffer(string: raw)
        }
        if body != nil { h[.contentType] = contentType }
        let response = try await client.execute(uri: path, method: method, headers: h, body: body)
        return TestResponse(status: response.status, headers: response.headers, body: Array(buffer: response.body))
    }

    /// Counts rows, for "nothing was written" assertions.
    func count(_ table: String) async throws -> Int {
        let rows = try await db.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int8 FROM \(table)"), logger: TestDatabase.logger)
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return -1
    }
}

struct TestResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: [UInt8]

    var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: Data(body))) ?? .null }
    var text: String { String(decoding: body, as: UTF8.self) }
    var etag: String? { headers[.eTag] }
    /// Field pointers of a problem's `errors`.
    var pointers: [String] { json["errors"]?.arrayValue?.compactMap { $0["pointer"]?.stringValue } ?? [] }
    var problemType: String? { json["type"]?.stringValue?.components(separatedBy: "/").last }
}

/// Valid item inputs, as a service contact would send them.
enum Items {
    static func provided(_ value: [String: JSONValue]) -> JSONValue {
        .object(["status": .string("provided"), "value": .object(value)])
    }

    static let contact = provided(["name": .string("Ada Lovelace"), "email": .string("ada@dvla.gov.uk"), "phone": .string("020 7946 0000")])
    static let signOff = provided(["name": .string("Grace Hopper"), "email": .string("grace@dvla.gov.uk"), "phone": .string("020 7946 0001")])
    static let service = provided([
        "name": .string("Renew your driving licence"), "description": .string("Drivers renew their licence online"),
        "start_page_url": .string("https://www.gov.uk/renew-driving-licence"),
    ])
    static let all: [String: JSONValue] = [
        "contact": contact, "sign_off_contact": signOff, "service": service,
        "cost_per_transaction": provided(["transactions_explorer_url": .string("https://www.gov.uk/performance/x")]),
        "user_satisfaction": provided(["done_page_url": .string("https://www.gov.uk/done/x")]),
        "completion_rate": provided(["analytics_provider": .string("piwik")]),
        "digital_take_up": provided([
            "spreadsheet_reference": .string("volumes.xlsx"),
            "uploaders": .array([.object(["name": .string("Sam"), "email": .string("sam@dvla.gov.uk")])]),
        ]),
        "service_availability": .object(["status": .string("not_available"), "reason": .string("No health page")]),
    ]

    static func request(_ items: [String: JSONValue], kind: String = "transactional", department: String = "DVLA") -> JSONValue {
        .object(["kind": .string(kind), "department": .string(department), "items": .object(items)])
    }
}
