import CallboardDomain
import CallboardServices
import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import Testing

@testable import CallboardHTTP
@testable import CallboardStorage

extension TestApp {
    /// A request with a monthly data set written at `/data/carers-allowance/<type>`, declaring `fields`.
    func writableDataSet(type: String = "transactions-by-channel", fields: JSONValue? = nil) async throws -> (request: String, dataSet: String) {
        let (id, _) = try await createRequest(Items.all)
        guard case .object(var body) = DataSetAPITests.monthly else { return ("", "") }
        body["name"] = .string("Volumes \(type)")
        body["data_group"] = .string("carers-allowance")
        body["data_type"] = .string(type)
        body["fields"] = fields ?? .array([.string("count"), .object(["name": .string("channel"), "type": .string("string")])])
        let ds = try await call(.post, "/api/v1/requests/\(id)/data-sets", json: .object(body))
        #expect(ds.status == .created, "\(ds.text)")
        return (id, ds.json["id"]?.stringValue ?? "")
    }

    func writeToken(_ dataSet: String, as staffToken: String? = nil) async throws -> String {
        let r = try await call(.post, "/api/v1/data-sets/\(dataSet)/write-tokens", token: staffToken, json: .object(["name": .string("pipeline")]))
        #expect(r.status == .created, "\(r.text)")
        return r.json["token"]?.stringValue ?? ""
    }

    /// A write-API call with raw bytes (gzip, odd media types).
    func data(
        _ method: HTTPRequest.Method, _ path: String, token: String?, body: [UInt8]? = nil, json: String? = nil, gzip: Bool = false,
        contentType: String = "application/json"
    ) async throws -> TestResponse {
        var h = HTTPFields()
        if let token { h[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let bytes = body ?? json.map({ Array($0.utf8) }) {
            var b = ByteBuffer(bytes: bytes)
            if gzip {
                b = try b.compress(with: .gzip())
                h[.contentEncoding] = "gzip"
            }
            buffer = b
            h[.contentType] = contentType
        }
        let r = try await client.execute(uri: path, method: method, headers: h, body: buffer)
        return TestResponse(status: r.status, headers: r.headers, body: Array(buffer: r.body))
    }

    func records(_ dataSet: String) async throws -> [(String, String)] {
        try await db.query(
            "SELECT record_id, data::text FROM data_set_records WHERE data_set_id = \(UUID(uuidString: dataSet)!) ORDER BY record_id",
            logger: TestDatabase.logger
        ).collect().map { try $0.decode((String, String).self) }
    }
}

@Suite struct WriteAPITests {
    static let path = "/data/carers-allowance/transactions-by-channel"

    @Test func tokensAreShownOnceStoredAsHashesAndWriteOnlyTheirOwnDataSet() async throws {
        try await TestApp.run { app in
            let (_, ds) = try await app.writableDataSet()
            let (_, other) = try await app.writableDataSet(type: "other")
            let token = try await app.writeToken(ds)
            app.clock.advance(by: 1)
            let second = try await app.writeToken(ds)  // rotation: both live at once
            let otherToken = try await app.writeToken(other)
            #expect(token.hasPrefix("cbw_") && token.count == 47 && token != second)
            let record = #"{"_timestamp": "2026-11-02T00:00:00+00:00", "count": 3}"#
            #expect(
                try await app.data(.post, Self.path, token: token, json: record).json == .object(["status": .string("ok"), "records": .number(1)]))
            #expect(try await app.data(.post, Self.path, token: second, json: record).status == .ok)

            // The list never shows a token, and nothing stored holds one.
            let list = try await app.call(.get, "/api/v1/data-sets/\(ds)/write-tokens").json["items"]!.arrayValue!
            #expect(list.count == 2 && list.allSatisfy { $0["token"] == nil && $0["last_used_at"] != .null })
            // Created with an Idempotency-Key, a token is not kept for the replay either.
            let keyed = try await app.call(
                .post, "/api/v1/data-sets/\(other)/write-tokens", headers: [HTTPField.Name("Idempotency-Key")!: "token-once"])
            let keyedToken = try #require(keyed.json["token"]?.stringValue)
            #expect(keyed.headers[.cacheControl] == "no-store")
            let stored = try await app.db.query(
                "SELECT row_to_json(t)::text FROM data_set_write_tokens t UNION ALL SELECT row_to_json(i)::text FROM idempotency_keys i",
                logger: TestDatabase.logger
            ).collect().map { try $0.decode(String.self) }.joined()
            #expect(stored.contains("token-once"))
            for t in [token, second, otherToken, keyedToken] { #expect(!stored.contains(t) && !stored.contains(String(t.dropFirst(4)))) }

            // 401 without a live token, 403 with another data set's: before any body is read.
            let none = try await app.data(.post, Self.path, token: nil, json: record)
            #expect(none.status == .unauthorized && none.json["status"] == .string("error") && none.headers[.wwwAuthenticate] != nil)
            #expect(try await app.data(.post, Self.path, token: "cbw_nonsense", json: record).status == .unauthorized)
            #expect(try await app.data(.post, Self.path, token: app.adminToken, json: record).status == .unauthorized)
            let foreign = try await app.data(.post, Self.path, token: otherToken, json: record)
            #expect(foreign.status == .forbidden && foreign.json["message"] == .string("This token writes only its own data set, not \(Self.path)"))
            #expect(try await app.data(.post, "/data/nobody/nothing", token: token, json: record).status == .forbidden)

            // Revoked: 401. Viewers may not manage tokens.
            let id = list[0]["id"]!.stringValue!
            #expect(try await app.call(.delete, "/api/v1/data-sets/\(ds)/write-tokens/\(id)").json["revoked_at"] != .null)
            #expect(try await app.data(.post, Self.path, token: token, json: record).status == .unauthorized)
            #expect(try await app.data(.post, Self.path, token: second, json: record).status == .ok)
            let viewer = try await app.token(role: .viewer)
            #expect(try await app.call(.post, "/api/v1/data-sets/\(ds)/write-tokens", token: viewer).status == .forbidden)
            #expect(try await app.call(.get, "/api/v1/data-sets/\(ds)/write-tokens", token: viewer).status == .forbidden)
            #expect(try await app.call(.delete, "/api/v1/data-sets/\(other)/write-tokens/\(id)").status == .notFound)
            let triager = try await app.token(role: .triager)
            #expect(try await app.writeToken(ds, as: triager).hasPrefix("cbw_"))
        }
    }

    @Test func recordsAreValidatedWholeUpsertedByIDAndReplaced() async throws {
        try await TestApp.run { app in
            let (_, ds) = try await app.writableDataSet()
            let token = try await app.writeToken(ds)
            let ok = try await app.data(
                .post, Self.path, token: token,
                json: #"[{"_id": "w45-online", "_timestamp": "2026-11-02T00:00:00Z", "Count": 12, "channel": "online"}, {"count": 1}]"#)
            #expect(ok.status == .ok && ok.json["records"] == .number(2))
            var stored = try await app.records(ds)
            #expect(stored.count == 2 && stored.last! == ("w45-online", #"{"count": 12, "channel": "online"}"#))

            // The same _id replaces the record, also within one batch (the last wins).
            #expect(
                try await app.data(
                    .post, Self.path, token: token,
                    json: #"[{"_id": "w45-online", "count": 13}, {"_id": "w45-online", "count": 14, "_timestamp": "2026-11-02T00:00:00Z"}]"#
                ).status == .ok)
            stored = try await app.records(ds)
            #expect(stored.count == 2 && stored.last! == ("w45-online", #"{"count": 14}"#))

            // One bad record refuses the batch: every problem at once, nothing stored, never a 5xx.
            let bad = try await app.data(
                .post, Self.path, token: token,
                json: #"[{"count": 5}, {"count": "five", "colour": "red", "_timestamp": "2026-11-02"}, {"_secret": 1, "channel": null}]"#)
            #expect(bad.status == .badRequest && bad.json["status"] == .string("error"))
            #expect(bad.headers[.contentType] == "application/json; charset=utf-8" || bad.headers[.contentType] == "application/json")
            #expect(bad.pointers == ["/1/_timestamp", "/1/colour", "/1/count", "/2/_secret", "/2/channel"])
            #expect(
                bad.json["message"]
                    == .string(
                        "Record 1: _timestamp must be an ISO 8601 time with a UTC offset, like 2026-11-23T00:00:00+00:00 (and 4 more problems)"))
            #expect(try await app.records(ds).count == 2)
            for body in ["not json", "[[1]]", #""a string""#, ""] {
                let r = try await app.data(.post, Self.path, token: token, json: body)
                #expect(r.status == .badRequest, "\(body): \(r.text)")
            }
            #expect(try await app.data(.post, Self.path, token: token, json: "{}", contentType: "text/plain").status == .unsupportedMediaType)

            // PUT replaces everything; PUT [] empties; PUT takes only an array.
            #expect(try await app.data(.put, Self.path, token: token, json: #"[{"_id": "only", "count": 1}]"#).json["records"] == .number(1))
            #expect(try await app.records(ds).map(\.0) == ["only"])
            #expect(try await app.data(.put, Self.path, token: token, json: #"{"count": 1}"#).status == .badRequest)
            #expect(try await app.data(.post, Self.path, token: token, json: "[]").json == .object(["status": .string("ok"), "records": .number(0)]))
            #expect(try await app.records(ds).count == 1)
            #expect(try await app.data(.put, Self.path, token: token, json: "[]").json == .object(["status": .string("ok"), "records": .number(0)]))
            #expect(try await app.records(ds).isEmpty)
            let view = try await app.call(.get, "/api/v1/requests/\(try await requestOf(ds, app))/data-sets").json["items"]!.arrayValue!
            let mine = view.first { $0["id"]?.stringValue == ds }!
            #expect(mine["last_write"]?["records"] == .number(0) && mine["last_write"]?["source"] == .string("api"))
            #expect(mine["write_url"] == .string("http://127.0.0.1:8080\(Self.path)"))
        }
    }

    func requestOf(_ ds: String, _ app: TestApp) async throws -> String {
        try await app.db.query("SELECT request_id FROM data_sets WHERE id = \(UUID(uuidString: ds)!)", logger: TestDatabase.logger)
            .collect()[0].decode(UUID.self).lowercasedString
    }

    @Test func gzipBodiesAreTakenAndABombIsRefusedWithinTheLimit() async throws {
        try await TestApp.run { app in
            let (_, ds) = try await app.writableDataSet()
            let token = try await app.writeToken(ds)
            let many =
                "[" + (0..<5000).map { #"{"_id": "r\#($0)", "_timestamp": "2026-11-02T00:00:00Z", "count": \#($0)}"# }.joined(separator: ",") + "]"
            let ok = try await app.data(.post, Self.path, token: token, json: many, gzip: true)
            #expect(ok.status == .ok && ok.json["records"] == .number(5000), "\(ok.text)")
            #expect(try await app.records(ds).count == 5000)
            // 11 MB of spaces inside a valid array compresses to about 11 KB: refused once it grows past 10 MB.
            let bomb = Array("[".utf8) + [UInt8](repeating: 0x20, count: 11 * 1_048_576) + Array("]".utf8)
            let refused = try await app.data(.post, Self.path, token: token, body: bomb, gzip: true)
            #expect(refused.status == .contentTooLarge && refused.json["status"] == .string("error"), "\(refused.text)")
            let plain = try await app.data(.post, Self.path, token: token, body: bomb)
            #expect(plain.status == .contentTooLarge)
            var h = HTTPFields()
            h[.authorization] = "Bearer \(token)"
            h[.contentType] = "application/json"
            h[.contentEncoding] = "gzip"
            let corrupt = try await app.client.execute(uri: Self.path, method: .post, headers: h, body: ByteBuffer(string: "not gzip at all"))
            #expect(corrupt.status == .badRequest)
            h[.contentEncoding] = "br"
            #expect(
                try await app.client.execute(uri: Self.path, method: .post, headers: h, body: ByteBuffer(string: "[]")).status
                    == .unsupportedMediaType)
            #expect(try await app.records(ds).count == 5000)
        }
    }

    /// The clock starts Wednesday 18 November 2026: October's data (due 6 November) is overdue and
    /// chased. An API write of November's records settles November only; October's reminder stays
    /// queued until October's records arrive.
    @Test func anAPIWriteSettlesExactlyThePeriodsItsRecordsFallIn() async throws {
        try await TestApp.run { app in
            let scheduler = try app.scheduler()
            let (id, ds) = try await app.writableDataSet()
            let token = try await app.writeToken(ds)
            #expect(try await scheduler.tick().remindersQueued == 1)
            #expect(try await app.digests().map(\.2) == ["queued"])

            let november = try await app.data(
                .post, Self.path, token: token, json: #"[{"_timestamp": "2026-11-02T00:00:00Z", "count": 4}, {"count": 9}]"#)
            #expect(november.status == .ok)
            #expect(try await app.digests().map(\.2) == ["queued"])
            var listed = try await app.call(.get, "/api/v1/requests/\(id)/data-sets").json["items"]!.arrayValue![0]
            #expect(listed["status"] == .string("overdue"))

            // October's records arrive (one on 31 October 23:30 UTC, still October in London): its reminder is cancelled.
            let october = try await app.data(
                .post, Self.path, token: token,
                json: #"[{"_timestamp": "2026-10-05T00:00:00+01:00", "count": 1}, {"_timestamp": "2026-10-31T23:30:00Z", "count": 2}]"#)
            #expect(october.status == .ok)
            #expect(try await app.digests().map(\.2) == ["cancelled"])
            listed = try await app.call(.get, "/api/v1/requests/\(id)/data-sets").json["items"]!.arrayValue![0]
            #expect(listed["status"] == .string("received"))
            let uploads = try await app.db.query(
                "SELECT period_start::text, source, row_count, token_id IS NOT NULL FROM data_set_uploads ORDER BY period_start",
                logger: TestDatabase.logger
            ).collect().map { try $0.decode((String, String, Int?, Bool).self) }
            #expect(uploads.map(\.0) == ["2026-10-01", "2026-11-01"] && uploads.map(\.2) == [2, 1] && uploads.allSatisfy { $0.1 == "api" && $0.3 })
            let events = try await app.call(.get, "/api/v1/requests/\(id)/events?limit=200").json["items"]!.arrayValue!
            let written = events.filter { $0["kind"] == .string("upload_recorded") }
            #expect(written.count == 2)
            #expect(written.last?["data"]?["periods"] == .array([.object(["start": .string("2026-10-01"), "end": .string("2026-10-31")])]))
            #expect(written.last?["data"]?["records"] == .number(2) && written.last?["data"]?["source"] == .string("api"))
            #expect(events.contains { $0["kind"] == .string("email_cancelled") })

            // November was written on the 18th: nothing is chased for it in December.
            #expect(try await scheduler.tick().remindersQueued == 0)
            app.setClock("2026-12-02T10:00:00Z")
            let report = try await scheduler.tick()
            let queued = try await app.digests().filter { $0.2 == "queued" }
            #expect(queued.allSatisfy { !$0.3.contains("Volumes transactions-by-channel") }, "\(report) \(queued.map(\.1))")
            // Data for a month still to come is stored but settles nothing; emptying is not an upload.
            #expect(try await app.data(.post, Self.path, token: token, json: #"{"_timestamp": "2027-03-01T00:00:00Z", "count": 1}"#).status == .ok)
            #expect(try await app.count("data_set_uploads") == 2)
            #expect(try await app.data(.put, Self.path, token: token, json: "[]").status == .ok)
            #expect(try await app.count("data_set_uploads") == 2)
        }
    }

    @Test func readingFiltersGroupsAndBecomesPublicOnceLive() async throws {
        try await TestApp.run { app in
            let (id, ds) = try await app.writableDataSet()
            let token = try await app.writeToken(ds)
            let records = [
                ("2026-10-05T00:00:00+01:00", 10, "online"), ("2026-10-12T00:00:00+01:00", 5, "phone"), ("2026-11-02T00:00:00Z", 7, "online"),
                ("2026-11-03T00:00:00Z", 3, "online"),
            ]
            let body = "[" + records.map { #"{"_timestamp": "\#($0.0)", "count": \#($0.1), "channel": "\#($0.2)"}"# }.joined(separator: ",") + "]"
            #expect(try await app.data(.post, Self.path, token: token, json: body).status == .ok)

            // Before the dashboard is live: its tokens and staff read; nobody else.
            #expect(try await app.data(.get, Self.path, token: nil).status == .unauthorized)
            #expect(try await app.data(.get, "/data/no/such", token: nil).status == .unauthorized)
            #expect(try await app.data(.get, "/data/no/such", token: app.adminToken).status == .notFound)
            let all = try await app.data(.get, Self.path, token: token).json["data"]!.arrayValue!
            #expect(all.map { $0["count"]! } == [.number(10), .number(5), .number(7), .number(3)])
            #expect(all[0]["_timestamp"] == .string("2026-10-04T23:00:00+00:00") && all[0]["_id"]?.stringValue?.count == 36)

            func get(_ query: String) async throws -> JSONValue { try await app.data(.get, Self.path + "?" + query, token: app.adminToken).json }
            #expect(
                try await get("filter_by=channel:online&start_at=2026-10-10&end_at=2026-11-03")["data"]!.arrayValue!.map { $0["count"]! } == [
                    .number(7)
                ])
            #expect(try await get("sort_by=count:descending&limit=2")["data"]!.arrayValue!.map { $0["count"]! } == [.number(10), .number(7)])
            #expect(
                try await get("period=month&collect=count:sum&collect=count:mean")["data"]
                    == .array([
                        .object([
                            "_start_at": .string("2026-10-01T00:00:00+01:00"), "_end_at": .string("2026-11-01T00:00:00+00:00"), "_count": .number(2),
                            "count:sum": .number(15), "count:mean": .number(7.5),
                        ]),
                        .object([
                            "_start_at": .string("2026-11-01T00:00:00+00:00"), "_end_at": .string("2026-12-01T00:00:00+00:00"), "_count": .number(2),
                            "count:sum": .number(10), "count:mean": .number(5),
                        ]),
                    ]))
            #expect(
                try await get("group_by=channel&collect=count:sum&sort_by=count:sum:ascending")["data"]
                    == .array([
                        .object(["channel": .string("phone"), "_count": .number(1), "count:sum": .number(5)]),
                        .object(["channel": .string("online"), "_count": .number(3), "count:sum": .number(20)]),
                    ]))
            // Sorted whole, then cut: the top channel.
            #expect(
                try await get("group_by=channel&collect=count:sum&sort_by=count:sum:descending&limit=1")["data"]
                    == .array([.object(["channel": .string("online"), "_count": .number(3), "count:sum": .number(20)])]))
            // Weeks start on Monday, in London time.
            let weeks = try await get("period=week&group_by=channel&collect=count:count")["data"]!.arrayValue!
            #expect(
                weeks.map { $0["_start_at"]! } == [
                    .string("2026-10-05T00:00:00+01:00"), .string("2026-10-12T00:00:00+01:00"), .string("2026-11-02T00:00:00+00:00"),
                ])
            #expect(weeks.last?["count:count"] == .number(2))
            let bad = try await app.data(.get, Self.path + "?period=day&collect=channel:sum&colour=red", token: token)
            #expect(bad.status == .badRequest && bad.pointers == ["/query/period", "/query/collect", "/query/colour"])

            // Live: public, unless the data set is private.
            try await app.db.query("UPDATE requests SET state = 'live' WHERE id = \(UUID(uuidString: id)!)", logger: TestDatabase.logger)
            #expect(try await app.data(.get, Self.path, token: nil).json["data"]?.arrayValue?.count == 4)
            let viewer = try await app.token(role: .viewer)
            #expect(
                try await app.call(.patch, "/api/v1/requests/\(id)/data-sets/\(ds)", token: viewer, json: .object(["private": .bool(true)])).status
                    == .forbidden)
            #expect(
                try await app.call(.patch, "/api/v1/requests/\(id)/data-sets/\(ds)", json: .object(["private": .bool(true)])).json["private"]
                    == .bool(true))
            #expect(try await app.data(.get, Self.path, token: nil).status == .unauthorized)
            #expect(try await app.data(.get, Self.path, token: viewer).status == .ok)

            // Sums beyond Double's range are null, not a 500; the mean of two 1e308 is still 1e308.
            let huge = #"[{"_id": "h1", "count": 1e308, "channel": "huge"}, {"_id": "h2", "count": 1e308, "channel": "huge"}]"#
            #expect(try await app.data(.post, Self.path, token: token, json: huge).status == .ok)
            #expect(
                try await get("group_by=channel&collect=count:sum&collect=count:mean&filter_by=channel:huge")["data"]
                    == .array([.object(["channel": .string("huge"), "_count": .number(2), "count:sum": .null, "count:mean": .number(1e308)])]))
            // A withdrawn request's data set takes no more data.
            try await app.db.query("UPDATE requests SET state = 'withdrawn' WHERE id = \(UUID(uuidString: id)!)", logger: TestDatabase.logger)
            #expect(try await app.data(.post, Self.path, token: token, json: #"{"count": 1}"#).status == .forbidden)
        }
    }

    @Test func writePathsAreUniqueAndGivenTogether() async throws {
        try await TestApp.run { app in
            let (id, ds) = try await app.writableDataSet()
            let (_, other) = try await app.writableDataSet(type: "other")
            let taken = try await app.call(
                .patch, "/api/v1/requests/\(id)/data-sets/\(ds)",
                json: .object(["data_group": .string("carers-allowance"), "data_type": .string("other")]))
            #expect(taken.status == .unprocessableContent && taken.pointers == ["/data_type"])
            let half = try await app.call(.patch, "/api/v1/requests/\(id)/data-sets/\(ds)", json: .object(["data_group": .string("x")]))
            #expect(half.pointers == ["/data_type"])
            let bad = try await app.call(
                .patch, "/api/v1/requests/\(id)/data-sets/\(ds)",
                json: .object([
                    "data_group": .string("Carers Allowance"), "data_type": .string("ok"),
                    "fields": .array([.object(["name": .string("n"), "type": .string("date")])]),
                ]))
            #expect(Set(bad.pointers) == ["/data_group", "/fields/0/type"])
            let removed = try await app.call(
                .patch, "/api/v1/requests/\(id)/data-sets/\(ds)", json: .object(["data_group": .null, "data_type": .null]))
            #expect(removed.json["write_url"] == .null && removed.json["data_group"] == .null)
            _ = other
        }
    }
}

/// Every log line the application writes, for "this is logged, that never is" assertions.
final class CapturedLog: Sendable {
    let lines = Mutex<[(message: String, metadata: [String: String])]>([])

    var logger: Logger {
        var l = Logger(label: "captured") { _ in Handler(log: self) }
        l.logLevel = .info
        return l
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
            log.lines.withLock { $0.append((event.message.description, all)) }
        }
    }
}

@Suite struct WriteAPILogTests {
    @Test func theClientsRequestIDIsLoggedAndTheTokenNever() async throws {
        try await TestDatabase.with { db, _ in
            let log = CapturedLog()
            let clock = TestClock()
            let staff = StaffService(db: db, time: clock, logger: TestDatabase.logger)
            let admin = try await staff.createStaff(email: "admin@callboard.test", name: "Admin", role: .admin)
            let adminToken = try await staff.createToken(for: admin, name: "test", expiresAt: nil).token
            let deps = AppDependencies(db: db, time: clock, logger: log.logger)
            let app = Application(router: try buildRouter(deps), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: log.logger)
            try await app.test(.router) { client in
                func call(_ method: HTTPRequest.Method, _ path: String, token: String, _ body: String?, extra: HTTPFields = [:]) async throws
                    -> TestResponse
                {
                    var h = extra
                    h[.authorization] = "Bearer \(token)"
                    if body != nil { h[.contentType] = "application/json" }
                    let r = try await client.execute(uri: path, method: method, headers: h, body: body.map { ByteBuffer(string: $0) })
                    return TestResponse(status: r.status, headers: r.headers, body: Array(buffer: r.body))
                }
                let request = try await call(.post, "/api/v1/requests", token: adminToken, #"{"kind": "non_transactional", "department": "DWP"}"#)
                let rid = request.json["id"]!.stringValue!
                let ds = try await call(
                    .post, "/api/v1/requests/\(rid)/data-sets", token: adminToken,
                    #"{"name": "Volumes", "cadence": "weekly", "data_group": "dwp", "data_type": "volumes", "uploaders": [{"name": "Sam", "email": "sam@dwp.gov.uk"}]}"#
                )
                let token = try await call(.post, "/api/v1/data-sets/\(ds.json["id"]!.stringValue!)/write-tokens", token: adminToken, nil).json[
                    "token"]!.stringValue!
                var h = HTTPFields()
                h[HTTPField.Name("Govuk-Request-Id")!] = "pp-client-4711"
                #expect(try await call(.post, "/data/dwp/volumes", token: token, #"{"n": 1}"#, extra: h).status == .ok)
                h[HTTPField.Name("Govuk-Request-Id")!] = "has a space"
                #expect(try await call(.post, "/data/dwp/volumes", token: token + "x", #"{"n": 1}"#, extra: h).status == .unauthorized)
                let lines = log.lines.withLock { $0 }
                let access = lines.filter { $0.message == "request" && $0.metadata["route"]?.hasPrefix("/data/") == true }
                #expect(access.map { $0.metadata["govuk_request_id"] } == ["pp-client-4711", nil])
                #expect(access.map { $0.metadata["status"] } == ["200", "401"])
                let everything = lines.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
                #expect(!everything.contains(token) && !everything.contains(String(token.dropFirst(4))) && !everything.contains(adminToken))
            }
        }
    }

    /// A plain body above the API's 1 MB but within the write API's 10 MB is taken.
    @Test func bodiesUpToTheWriteLimitAreTaken() async throws {
        try await TestApp.run { app in
            let (_, ds) = try await app.writableDataSet(fields: .array([]))
            let token = try await app.writeToken(ds)
            let big =
                "[" + (0..<40_000).map { #"{"_id": "record-\#($0)", "note": "\#(String(repeating: "x", count: 40))"}"# }.joined(separator: ",") + "]"
            #expect(big.utf8.count > 3_000_000)
            let r = try await app.data(.post, WriteAPITests.path, token: token, json: big)
            #expect(r.status == .ok && r.json["records"] == .number(40_000), "\(r.text.prefix(300))")
        }
    }

    /// During an outage the write API answers in its own JSON shape, which the client retries.
    @Test func anOutageIsA503InTheWriteAPIsShape() async throws {
        let unavailable = UnavailableResponse(pages: try .bundled())
        for timedOut in [false, true] {
            let r = unavailable.response(for: "/data/carers-allowance/volumes", timedOut: timedOut)
            #expect(r.status == .serviceUnavailable && r.headers[.retryAfter] == "5")
            #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
            let collected = DirectRouter.Collected()
            try await r.body.write(collected)
            let json = try JSONValue.parse(collected.bytes.withLock { $0 })
            #expect(json["status"] == .string("error") && json["message"]?.stringValue?.isEmpty == false)
        }
        #expect(unavailable.response(for: "/api/v1/requests").headers[.contentType] == "application/problem+json")
    }
}

/// The CSV page writes into the same store as the API: its rows replace the records of the period
/// the file covers, checked by the fields' types; the page shows the write URL.
@Suite struct CSVRecordsTests {
    @Test func aCSVUploadReplacesItsPeriodsRecordsAndThePageShowsTheWriteURL() async throws {
        try await TestApp.run { app in
            let (id, ds) = try await app.writableDataSet()
            let link = NewLink(
                purpose: .upload, requestID: UUID(uuidString: id)!, email: "sam@dvla.gov.uk", requestVersion: 0, at: app.clock.now(),
                expiresAt: app.clock.now().addingTimeInterval(30 * 86_400), dataSetID: UUID(uuidString: ds)!)
            try await app.db.withConnection { try await LinkStore.insert(link, on: $0, logger: TestDatabase.logger) }
            let token = try await app.mintToken(for: link.record.id)
            let page = try await app.call(.get, "/upload/\(token)", token: "")
            #expect(page.text.contains("http://127.0.0.1:8080/data/carers-allowance/transactions-by-channel"))
            #expect(page.text.contains("count is a number, channel is text"))

            // A November record from the API is outside October's file and stays.
            let writeToken = try await app.writeToken(ds)
            #expect(
                try await app.data(.post, WriteAPITests.path, token: writeToken, json: #"{"_timestamp": "2026-11-02T00:00:00Z", "count": 9}"#)
                    .status == .ok)
            let upload = MultipartFormUploadTests()
            func send(_ csv: String) async throws -> TestResponse {
                try await upload.post(app, token, upload.form(csrf: link.record.csrf, file: csv), boundary: "----cb7MA4YWxkTrZu0gW")
            }
            #expect(try await send("_timestamp,count,channel\n2026-10-01,3,web\n2026-10-02T10:00:00+01:00,4,phone\n").status == .ok)
            #expect(try await app.records(ds).count == 3)
            // Sent again with one row: the month's two records become one, not three.
            #expect(try await send("_timestamp,count,channel\n2026-10-05,5,web\n").status == .ok)
            let stored = try await app.records(ds).map(\.1).sorted()
            #expect(stored == [#"{"count": 5, "channel": "web"}"#, #"{"count": 9}"#])
            let bad = try await send("_timestamp,count,channel\n2026-10-05,five,web\n")
            #expect(bad.status == .unprocessableContent && bad.text.contains("count &quot;five&quot; must be a number"))
            #expect(try await app.records(ds).count == 2)
            let listed = try await app.call(.get, "/api/v1/requests/\(id)/data-sets").json["items"]!.arrayValue![0]
            #expect(listed["last_write"]?["source"] == .string("csv") && listed["last_write"]?["records"] == .number(1))
        }
    }
}
