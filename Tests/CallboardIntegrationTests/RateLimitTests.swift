import CallboardDomain
import CallboardHTTP
import CallboardServices
import CallboardStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOEmbedded
import PostgresNIO
import Synchronization
import Testing

/// Rate limits live in PostgreSQL: shared by every instance, keyed by ids (never a secret), written
/// only for keys known to be real, and purged once their window has ended.
@Suite(.serialized) struct RateLimitTests {
    static let logger = TestDatabase.logger

    /// Several application instances on one database, each with its own connection pool and clock
    /// (set to the same time), as separate processes would be.
    static func instances(_ n: Int, _ body: @Sendable @escaping (PostgresClient, [(router: DirectRouter, clock: TestClock)]) async throws -> Void)
        async throws
    {
        try await TestDatabase.with { db, url in
            let pools = try (0..<n).map { _ in
                PostgresClient(configuration: try url.clientConfiguration(maxConnections: 10), backgroundLogger: logger)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for pool in pools { group.addTask { await pool.run() } }
                defer { group.cancelAll() }
                let apps = try pools.map { pool in
                    let clock = TestClock()
                    return (try DirectRouter(AppDependencies(db: pool, time: clock, logger: logger)), clock)
                }
                try await body(db, apps)
            }
        }
    }

    static func post(_ router: DirectRouter, _ path: String, _ form: String) async throws -> TestResponse {
        try await router.postForm(path, form)
    }

    static func signIn(_ router: DirectRouter, _ email: String) async throws -> TestResponse {
        try await post(router, "/staff/sign-in", "email=" + (email.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
    }

    static func rows(_ db: PostgresClient, _ sql: String) async throws -> Int {
        for try await n in try await db.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int.self) { return n }
        return -1
    }

    /// Resident memory of this process, in bytes (/proc/self/statm, Linux).
    static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// `n` requests, `concurrency` at a time; how many of each status.
    static func flood(
        _ n: Int, concurrency: Int = 16, _ one: @Sendable @escaping (Int) async throws -> HTTPResponse.Status
    ) async throws -> [HTTPResponse.Status: Int] {
        try await withThrowingTaskGroup(of: [HTTPResponse.Status: Int].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var counts: [HTTPResponse.Status: Int] = [:]
                    for i in stride(from: worker, to: n, by: concurrency) { counts[try await one(i), default: 0] += 1 }
                    return counts
                }
            }
            var all: [HTTPResponse.Status: Int] = [:]
            for try await counts in group { all.merge(counts, uniquingKeysWith: +) }
            return all
        }
    }

    @Test func twoInstancesShareTheSignInLimitAndUnknownAddressesAreAnsweredAlike() async throws {
        try await Self.instances(2) { db, apps in
            let staff = StaffService(db: db, time: apps[0].clock, logger: Self.logger)
            let real = try await staff.createStaff(email: "Ada.Staff@callboard.test", name: "Ada", role: .triager)
            let disabled = try await staff.createStaff(email: "gone@callboard.test", name: "Gone", role: .triager)
            _ = try await StaffStore.disable(id: disabled.id, at: apps[0].clock.now(), on: db, logger: Self.logger)

            // Five requests for one address, alternating instances (and letter case), then the sixth is refused:
            // alike for an active staff member, a disabled one and an address nobody has.
            for address in ["ada.staff@callboard.test", "gone@callboard.test", "nobody@callboard.test"] {
                var answers: [TestResponse] = []
                for i in 0..<6 {
                    for app in apps { app.clock.advance(by: 10) }
                    answers.append(try await Self.signIn(apps[i % 2].router, i == 2 ? address.uppercased() : address))
                }
                #expect(answers.map(\.status) == [.ok, .ok, .ok, .ok, .ok, .tooManyRequests], "\(address)")
                #expect(answers[0].text.contains("Check your email"))
                #expect(answers[5].text.contains("Too many sign-in requests"))
                // The first request was 50 seconds before the sixth: 850 seconds of the 15 minutes are left.
                #expect(answers[5].headers[.retryAfter] == "850", "\(address)")
            }

            // One row, for the staff member's id: none for the disabled or unknown addresses, no address stored.
            #expect(try await Self.rows(db, "SELECT count(*)::int8 FROM rate_limits") == 1)
            #expect(
                try await Self.rows(
                    db, "SELECT count(*)::int8 FROM rate_limits WHERE bucket = 'staff_sign_in' AND key = '\(real.id.uuidString)' AND hits = 6")
                    == 1)
            // Only the active staff member was sent links: five.
            #expect(try await Self.rows(db, "SELECT count(*)::int8 FROM staff_sign_in_links") == 5)

            // The window ends on both instances' clocks: asking again works.
            for app in apps { app.clock.advance(by: 850) }
            #expect(try await Self.signIn(apps[1].router, "ada.staff@callboard.test").status == .ok)
            #expect(try await Self.signIn(apps[0].router, "nobody@callboard.test").status == .ok)
        }
    }

    /// A request waiting for sign-off whose sign-off link has expired: (link id, token, csrf).
    static func expiredSignOffLink(_ app: TestApp) async throws -> (UUID, String, String) {
        let id = try await app.requestAwaitingSignOff()
        var linkID: UUID?
        for try await l in try await app.db.query(
            "SELECT id FROM links WHERE request_id = \(UUID(uuidString: id)!) AND purpose = 'sign_off'", logger: logger
        ).decode(UUID.self) { linkID = l }
        let link = try #require(linkID)
        let token = try await app.mintToken(for: link)
        app.clock.advance(by: 30 * 86400)
        let page = try await app.call(.get, "/sign-off/\(token)", token: "")
        #expect(page.status == .gone)
        let csrf = try #require(page.text.firstMatch(of: #/name="csrf" value="([^"]+)"/#).map { String($0.output.1) })
        return (link, token, csrf)
    }

    /// 10,000 of each by default: 50,000 of each took 72 to 81 s in a debug build (RSS grew 8 to 10 MB).
    /// CALLBOARD_RATE_LIMIT_FLOOD sets another size.
    static let floodSize = ProcessInfo.processInfo.environment["CALLBOARD_RATE_LIMIT_FLOOD"].flatMap { Int($0) } ?? 10_000

    /// A connection pool of its own on the test's database whose idle connections close after a second.
    /// PostgresNIO 1.33.2's pool keeps a timer for every release until the idle timeout
    /// (`connectionIdleTimeout`, 60 s in `DatabaseURL.clientConfiguration`), about 850 bytes each: at
    /// flood rates that is tens of MB for the minute, whatever the application does, so the pool is set
    /// to let them go within a second and the RSS measured is what the application keeps.
    static func shortIdlePool<T: Sendable>(_ app: TestApp, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        var name = ""
        for try await n in try await app.db.query("SELECT current_database()", logger: logger).decode(String.self) { name = n }
        var config = try TestDatabase.serverURL().with(database: name).clientConfiguration(maxConnections: 24)
        config.options.connectionIdleTimeout = .seconds(1)
        let pool = PostgresClient(configuration: config, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await pool.run() }
            defer { group.cancelAll() }
            return try await body(pool)
        }
    }

    @Test func aFloodOfUnknownLinksAndAddressesWritesNothingAndKeepsMemoryFlat() async throws {
        try await TestApp.run { app in
            let staff = try await app.staff.createStaff(email: "ada.staff@callboard.test", name: "Ada", role: .triager)
            let (linkID, token, csrf) = try await Self.expiredSignOffLink(app)
            try await Self.shortIdlePool(app) { pool in
                try await Self.flood(app, pool, staff: staff.id, link: (linkID, token, csrf))
            }
        }
    }

    static func flood(_ app: TestApp, _ pool: PostgresClient, staff: UUID, link: (id: UUID, token: String, csrf: String)) async throws {
        do {
            let (linkID, token, csrf) = link
            // Straight to the router: HummingbirdTesting's router client leaves a test channel behind for every request.
            let router = try DirectRouter(AppDependencies(db: pool, time: app.clock, logger: Self.logger))
            let unknownLink = { @Sendable (_: Int) in
                try await Self.post(router, "/sign-off/\(NewLink.random())/refresh", "csrf=\(csrf)").status
            }
            let unknownAddress = { @Sendable (i: Int) in
                try await Self.signIn(router, "u\(i)-\(UInt64.random(in: 0...UInt64.max))@example.gov.uk").status
            }
            // Warm up (allocator, pools, caches), then measure.
            _ = try await Self.flood(2_000, concurrency: 24, unknownLink)
            _ = try await Self.flood(2_000, concurrency: 24, unknownAddress)
            let slotsBefore = try await Self.rows(app.db, "SELECT count(*)::int8 FROM rate_limit_slots")
            let before = Self.residentBytes()
            let started = ContinuousClock.now

            let links = try await Self.flood(Self.floodSize, concurrency: 24, unknownLink)
            let linksTook = ContinuousClock.now - started
            let addresses = try await Self.flood(Self.floodSize, concurrency: 24, unknownAddress)
            let took = ContinuousClock.now - started
            let after = Self.residentBytes()
            let slots = try await Self.rows(app.db, "SELECT count(*)::int8 FROM rate_limit_slots")
            print(
                """
                rate limit flood: \(Self.floodSize) unknown link refreshes (\(links)) in \(linksTook), \
                \(Self.floodSize) unknown sign-in addresses (\(addresses)), \(took) in all; \
                RSS \(before / 1_048_576) MB before, \(after / 1_048_576) MB after; \
                rate_limit_slots \(slotsBefore) rows before, \(slots) after
                """)

            // Unknown links are 404s that cost nothing; made-up addresses are told to check their email
            // (a few share a slot with five others and are refused, as a real address would be).
            #expect(links == [.notFound: Self.floodSize])
            #expect(Set(addresses.keys).isSubset(of: [.ok, .tooManyRequests]))
            #expect(addresses[.tooManyRequests, default: 0] < Self.floodSize / 100)
            #expect(try await Self.rows(app.db, "SELECT count(*)::int8 FROM rate_limits") == 0)
            #expect(slots <= RateLimitStore.slots)
            #expect(try await Self.rows(app.db, "SELECT count(*)::int8 FROM staff_sign_in_links") == 0)
            #expect(after - before < 20 * 1_048_576, "RSS grew by \((after - before) / 1_048_576) MB")

            // The real link and the real address still work, and are limited by their ids.
            let refreshed = try await Self.post(router, "/sign-off/\(token)/refresh", "csrf=\(csrf)")
            #expect(refreshed.status == .ok && refreshed.text.contains("Check your email"))
            #expect(try await Self.signIn(router, "ada.staff@callboard.test").status == .ok)
            #expect(try await Self.rows(app.db, "SELECT count(*)::int8 FROM staff_sign_in_links") == 1)
            var keys: [String: UUID] = [:]
            for try await (bucket, key) in try await app.db.query("SELECT bucket, key FROM rate_limits", logger: Self.logger).decode(
                (String, UUID).self)
            {
                keys[bucket] = key
            }
            #expect(keys == ["link_refresh": linkID, "staff_sign_in": staff])
        }
    }

    @Test func anExpiredLinkIsRefreshedThreeTimesAnHourCountedByItsIdOnly() async throws {
        try await TestApp.run { app in
            let (linkID, token, csrf) = try await Self.expiredSignOffLink(app)
            let router = try DirectRouter(AppDependencies(db: app.db, time: app.clock, logger: Self.logger))
            // A forged form is refused and costs nothing; then three new links, then 429 for the rest of the hour.
            #expect(try await Self.post(router, "/sign-off/\(token)/refresh", "csrf=forged").status == .forbidden)
            var statuses: [HTTPResponse.Status] = []
            var last: TestResponse?
            for _ in 0..<4 {
                app.clock.advance(by: 60)
                last = try await Self.post(router, "/sign-off/\(token)/refresh", "csrf=\(csrf)")
                statuses.append(last!.status)
            }
            #expect(statuses == [.ok, .ok, .ok, .tooManyRequests])
            #expect(last?.headers[.retryAfter] == "\(3600 - 180)")
            #expect(last?.text.contains("We have already sent you new links.") == true)
            #expect(try await Self.rows(app.db, "SELECT count(*)::int8 FROM links WHERE purpose = 'sign_off'") == 4)
            #expect(
                try await Self.rows(app.db, "SELECT count(*)::int8 FROM rate_limits WHERE key = '\(linkID.uuidString)' AND hits = 4") == 1)
            #expect(try await Self.rows(app.db, "SELECT count(*)::int8 FROM rate_limits WHERE key::text LIKE '%\(token)%'") == 0)
            app.clock.advance(by: 3600 - 180)
            #expect(try await Self.post(router, "/sign-off/\(token)/refresh", "csrf=\(csrf)").status == .ok)
        }
    }

    /// The retention job's rate-limit purge (both tables) at `now`: how many rows went.
    static func purge(_ now: Date, _ db: PostgresClient) async throws -> Int {
        let cutoffs = RetentionStore.Cutoffs(
            now: now, pageLinksExpiredBy: .distantPast, sessionsOverBy: .distantPast, idempotencyKeysCreatedBy: .distantPast,
            emailsSentBy: .distantPast)
        return try await RetentionStore.purgeBatch(.rateLimits, cutoffs, limit: 1000, on: db, logger: logger).rows
    }

    @Test func expiredWindowsArePurgedWithTheirCount() async throws {
        try await TestDatabase.with { db, _ in
            let clock = TestClock()
            let t0 = clock.now()
            let limiter = RateLimiter(db: db, time: clock, logger: Self.logger)
            let (a, b, c) = (UUID(), UUID(), UUID())
            // At t0: two links (an hour), a staff member and two unknown addresses (15 minutes each).
            try await limiter.count(.linkRefresh, key: a)
            try await limiter.count(.linkRefresh, key: b)
            try await limiter.count(.staffSignIn, key: c)
            try await limiter.countUnknown(.staffSignIn, value: "one@example.gov.uk")
            try await limiter.countUnknown(.staffSignIn, value: "two@example.gov.uk")
            // Link b again after 20 minutes: still its first window, which ends at t0 + 1h.
            clock.advance(by: 1200)
            try await limiter.count(.linkRefresh, key: b)
            let slots = try await Self.rows(db, "SELECT count(*)::int8 FROM rate_limit_slots")  // 2, unless the two addresses share a slot

            #expect(try await Self.purge(t0.addingTimeInterval(899), db) == 0)
            #expect(try await Self.purge(t0.addingTimeInterval(900), db) == 1 + slots)
            #expect(try await Self.purge(t0.addingTimeInterval(900), db) == 0)
            #expect(try await Self.purge(t0.addingTimeInterval(3599), db) == 0)
            #expect(try await Self.purge(t0.addingTimeInterval(3600), db) == 2)
            #expect(try await Self.rows(db, "SELECT count(*)::int8 FROM rate_limits") == 0)
            #expect(try await Self.rows(db, "SELECT count(*)::int8 FROM rate_limit_slots") == 0)

            // Purging changes no answer: a window that ended starts afresh whether or not its row was deleted.
            clock.advance(by: 3600)
            for _ in 0..<3 { try await limiter.count(.linkRefresh, key: a) }
            await #expect(throws: RateLimited(retryAfter: 3600)) { try await limiter.count(.linkRefresh, key: a) }
            clock.advance(by: 3600)
            try await limiter.count(.linkRefresh, key: a)
            #expect(try await Self.rows(db, "SELECT count(*)::int8 FROM rate_limits WHERE hits = 1") == 1)
            // The retention job's purge, as it runs: what has ended by the clock's now.
            #expect(try await Self.purge(clock.now(), db) == 0)
            clock.advance(by: 3600)
            #expect(try await Self.purge(clock.now(), db) == 1)
        }
    }
}

/// The application's router driven in-process, every request with the same context channel: like
/// `app.test(.router)`, whose client makes a `NIOAsyncTestingChannel` for each request and never closes
/// it (about 5 KB a request), which would hide what the application itself keeps.
struct DirectRouter: Sendable {
    let respond: @Sendable (Request, AppContext) async throws -> Response
    let channel = NIOAsyncTestingChannel()

    init(_ deps: AppDependencies) throws {
        let responder = try buildRouter(deps).buildResponder()
        respond = { try await responder.respond(to: $0, context: $1) }
    }

    func postForm(_ path: String, _ form: String) async throws -> TestResponse {
        var headers = HTTPFields()
        headers[.contentType] = "application/x-www-form-urlencoded"
        let request = Request(
            head: .init(method: .post, scheme: "http", authority: "localhost", path: path, headerFields: headers),
            body: RequestBody(buffer: ByteBuffer(string: form)))
        var logger = TestDatabase.logger
        logger[metadataKey: "hb.request.id"] = .string(UUID().uuidString)  // as the server sets it
        let response = try await respond(request, AppContext(source: .init(channel: channel, logger: logger)))
        let body = Collected()
        try await response.body.write(body)
        return TestResponse(status: response.status, headers: response.headers, body: body.bytes.withLock { $0 })
    }

    final class Collected: ResponseBodyWriter, Sendable {
        let bytes = Mutex<[UInt8]>([])
        func write(_ buffer: ByteBuffer) async throws { bytes.withLock { $0 += Array(buffer: buffer) } }
        func finish(_ trailers: HTTPFields?) async throws {}
    }
}
