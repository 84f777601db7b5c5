import CallboardDomain
import CallboardStorage
import Foundation
import HTTPTypes
import Testing

@testable import CallboardHTTP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct MultipartFormTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func part(_ name: String, _ content: String, boundary: String = "B", headers: String = "") -> String {
        "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\(headers)\r\n\(content)\r\n"
    }

    @Test func readsNamedParts() {
        let body = bytes(
            "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n"
                + "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\r\n1,2\r\n--B--\r\n")
        let form = MultipartForm.parse(body, boundary: "B")
        #expect(form == ["csrf": bytes("abc"), "file": bytes("a,b\r\n1,2")])
    }

    /// Content is kept byte for byte: NULs, lone CRs and LFs, dashes, a near-miss of the delimiter, bytes that are not UTF-8.
    @Test func contentIsExactBytes() {
        let content: [UInt8] = [0, 13, 10, 45, 45, 13, 13, 10, 45, 66, 10, 45, 45, 66, 13, 10, 45, 67, 255, 254, 13]
        let body = bytes("--B\r\nContent-Disposition: form-data; name=file\r\n\r\n") + content + bytes("\r\n--B--")
        #expect(MultipartForm.parse(body, boundary: "B") == ["file": content])
    }

    /// The CRLF before a delimiter belongs to it; the one after the blank line starts the content.
    @Test func lineBreaks() {
        let form = MultipartForm.parse(
            bytes(
                part("trailing", "x\r\n") + part("leading", "\r\ny") + part("empty", "")
                    + "--B\r\nContent-Disposition: form-data; name=bare\r\n\r\n--B\r\n"  // no content at all: the blank line's CRLF ends it
                    + "--B\r\nContent-Disposition: form-data; name=lf\r\n\r\na\nb\n--B\n\r\n--B--"),
            boundary: "B")
        #expect(
            form == [
                "trailing": bytes("x\r\n"), "leading": bytes("\r\ny"), "empty": [], "bare": [], "lf": bytes("a\nb\n--B\n"),
            ])
        // Header lines end with CRLF: a part with LF-only headers never finds its blank line.
        #expect(MultipartForm.parse(bytes("--B\nContent-Disposition: form-data; name=a\n\nx\r\n--B--"), boundary: "B") == [:])
    }

    @Test func quotedBoundary() {
        let special = "a'()+_,-./:=? b"
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=\"\(special)\"") == special)
        #expect(MultipartForm.boundary(fromContentType: "Multipart/Form-Data; charset=utf-8; Boundary=\"abc\"") == "abc")
        #expect(
            MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW")
                == "----WebKitFormBoundary7MA4YWxkTrZu0gW")
        let body = bytes(part("csrf", "t", boundary: special) + part("file", "f", boundary: special) + "--\(special)--")
        #expect(MultipartForm.parse(body, boundary: special) == ["csrf": bytes("t"), "file": bytes("f")])
    }

    @Test func boundariesAreOneToSeventyBoundaryCharacters() {
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=" + String(repeating: "-", count: 70)) != nil)
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=" + String(repeating: "-", count: 71)) == nil)
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=") == nil)
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=\"\"") == nil)
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=\"abc") == nil)
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=\"ab \"") == nil)
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=a\rb") == nil)
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=a#b") == nil)
        #expect(MultipartForm.boundary(fromContentType: "application/x-www-form-urlencoded") == nil)
        // A CR or LF in a boundary given directly reads nothing.
        #expect(MultipartForm.parse(bytes("--a\rb\r\n\r\nx\r\n--a\rb--"), boundary: "a\rb") == [:])
    }

    /// Before the first delimiter and after the last: skipped, whatever they hold.
    @Test func preambleAndEpilogueAreSkipped() {
        let body = bytes(
            "This is the preamble. --B is not at a line start, nor is\n--B after a bare LF.\r\n--B  \t\r\n"
                + "Content-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                + part("b", "2") + "--B--  epilogue\r\n" + part("c", "3") + "--B--\r\n")
        #expect(MultipartForm.parse(body, boundary: "B") == ["a": bytes("1"), "b": bytes("2")])
        // A first delimiter at the very start needs no CRLF before it; a preamble that is only a CRLF is fine too.
        #expect(MultipartForm.parse(bytes(part("a", "1") + "--B--"), boundary: "B") == ["a": bytes("1")])
        #expect(MultipartForm.parse(bytes("\r\n" + part("a", "1") + "--B--"), boundary: "B") == ["a": bytes("1")])
    }

    @Test func namesAreReadFromContentDisposition() {
        let body = bytes(
            "--B\r\nContent-Type: text/plain\r\ncontent-disposition:form-data;name=first\r\n\r\n1\r\n"
                + "--B\r\nContent-Disposition: form-data; filename=\"a;name=x.csv\"; name=\"q\\\"uoted\"\r\n\r\n2\r\n"
                + "--B\r\nContent-Disposition: form-data; name=\"first\"\r\n\r\nagain\r\n"  // the first value stays
                + "--B\r\nContent-Type: text/plain\r\n\r\nnameless\r\n" + "--B\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nempty name\r\n"
                + "--B\r\nX-Content-Disposition: form-data; name=\"other\"\r\n\r\nnot it\r\n--B--")
        #expect(MultipartForm.parse(body, boundary: "B") == ["first": bytes("1"), "q\"uoted": bytes("2")])
    }

    @Test func partsAndHeadersAreCapped() {
        let many = (0..<25).map { part("p\($0)", "\($0)") }.joined() + "--B--"
        let form = MultipartForm.parse(bytes(many), boundary: "B")
        #expect(form.count == MultipartForm.maxParts)
        #expect(Set(form.keys) == Set((0..<MultipartForm.maxParts).map { "p\($0)" }))
        let headers = { (n: Int) in (0..<n).map { "X-\($0): y\r\n" }.joined() }
        let allowed = headers(MultipartForm.maxHeaders - 1)
        let tooMany = headers(MultipartForm.maxHeaders)
        #expect(MultipartForm.parse(bytes(part("a", "1", headers: allowed) + "--B--"), boundary: "B") == ["a": bytes("1")])
        #expect(MultipartForm.parse(bytes(part("a", "1", headers: tooMany) + "--B--"), boundary: "B") == [:])
    }

    /// Malformed bodies are ignored, never a crash: a part whose headers end at the next delimiter,
    /// no closing delimiter, an empty body, a lone delimiter, a delimiter followed by neither CRLF nor "--".
    @Test func malformedBodiesDoNotCrash() {
        for raw in [
            "--B\r\nContent-Disposition: form-data; name=a\r\n\r\n--B", "--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx",
            "", "-", "--", "--B", "--B-", "--B--", "--B\r", "--B\r\n", "--B\r\n\r", "--B\r\n\r\n", "--B\r\n\r\n--B--",
            "--B\r\nContent-Disposition: form-data; name=a\r\n--B\r\n\r\n--B--", "\r\n--B", "\r\n--B\r\n\r\n\r\n--B",
            "--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--Bx\r\n", "--B\r\nContent-Disposition: form-data; name=\"a\\",
            "--B\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--B--",
        ] {
            let (_, steps) = MultipartForm.parseCountingSteps(bytes(raw), boundary: "B")
            #expect(steps <= 4 * raw.utf8.count + 8, "\(raw.debugDescription): \(steps) steps")
        }
        #expect(MultipartForm.parse(bytes("--B\r\nContent-Disposition: form-data; name=a\r\n\r\n--B"), boundary: "B")["a"] == nil)
        #expect(MultipartForm.parse(bytes("--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--Bx\r\n"), boundary: "B") == [:])
        // A part counts once a delimiter line ends it, even without the closing one.
        #expect(MultipartForm.parse(bytes(part("a", "1") + "--B\r\n"), boundary: "B") == ["a": bytes("1")])
    }

    /// Random bodies over the bytes that matter, and every truncation of a well-formed one: no crash, linear work.
    @Test func fuzzedBodiesDoNotCrash() {
        var rng = SplitMix64(seed: 7)
        let alphabet = bytes("\r\n-Bab:;=\" ")
        for boundary in ["B", "Ba", "-B", "BBBBBBBB"] {
            for length in [0, 1, 2, 3, 5, 8, 13, 40, 200, 2_000] {
                for _ in 0..<50 {
                    let body = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                    let (_, steps) = MultipartForm.parseCountingSteps(body, boundary: boundary)
                    #expect(steps <= 4 * body.count + 8)
                }
            }
        }
        let whole = bytes(part("csrf", "abc") + part("file", "a,b\r\n1,2") + "--B--\r\n")
        for n in 0...whole.count {
            let (_, steps) = MultipartForm.parseCountingSteps(Array(whole.prefix(n)), boundary: "B")
            #expect(steps <= 4 * n + 8)
        }
        #expect(MultipartForm.parse(whole, boundary: "B").count == 2)
    }

    /// 1 MB bodies built to make a naive search rescan: the parser compares at most 4 bytes per body byte
    /// (counted, not timed: debug builds are slow).
    @Test(arguments: Adversarial.cases)
    func adversarialBodiesTakeLinearWork(_ c: Adversarial) {
        let body = c.body
        #expect(body.count == Adversarial.size)
        let (parts, steps) = MultipartForm.parseCountingSteps(body, boundary: c.boundary)
        print("multipart steps, \(c.name): \(steps) for \(body.count) bytes (\(Double(steps) / Double(body.count)) a byte)")
        #expect(steps <= 4 * body.count, "\(c.name): \(steps) steps")
        #expect(parts.count <= MultipartForm.maxParts)
    }
}

struct Adversarial: Sendable, CustomTestStringConvertible {
    static let size = 1_048_576
    let name: String
    let boundary: String
    let prefix: String
    let unit: String

    var testDescription: String { name }

    /// `prefix`, then `unit` repeated (the last copy cut) to exactly 1 MB.
    var body: [UInt8] {
        var b = Array(prefix.utf8)
        let u = Array(unit.utf8)
        b.reserveCapacity(Self.size)
        while b.count < Self.size { b += u.prefix(Self.size - b.count) }
        return b
    }

    static let long = String(repeating: "a", count: 70)
    static let opened = "--a\r\nContent-Disposition: form-data; name=file\r\n\r\n"
    static let openedLong = "--\(long)\r\nContent-Disposition: form-data; name=file\r\n\r\n"
    static let cases: [Adversarial] = [
        .init(name: "--a repeated", boundary: "a", prefix: "", unit: "--a"),
        .init(name: "CRLF--a repeated", boundary: "a", prefix: "", unit: "\r\n--a"),
        .init(name: "x then --a repeated", boundary: "a", prefix: "x", unit: "--a"),
        .init(name: "a repeated, 70-char boundary of a", boundary: long, prefix: "", unit: "a"),
        .init(name: "- repeated, 70-char boundary of -", boundary: String(repeating: "-", count: 70), prefix: "", unit: "-"),
        .init(name: "x then - repeated, 70-char boundary of -", boundary: String(repeating: "-", count: 70), prefix: "x", unit: "-"),
        .init(name: "CR repeated", boundary: "a", prefix: "", unit: "\r"),
        .init(name: "CRLF repeated", boundary: "a", prefix: "", unit: "\r\n"),
        .init(name: "CRLF- repeated", boundary: "a", prefix: "", unit: "\r\n-"),
        .init(name: "CRLF-- repeated", boundary: "a", prefix: "", unit: "\r\n--"),
        .init(name: "near misses of a 70-char boundary", boundary: long, prefix: "", unit: "\r\n--" + String(long.dropLast()) + "b"),
        .init(name: "open part, then CRLF--a repeated as content", boundary: "a", prefix: opened, unit: "\r\n--"),
        .init(name: "open part, then near misses", boundary: long, prefix: openedLong, unit: "\r\n--" + String(long.dropLast()) + "\r"),
        .init(name: "one header line to the end", boundary: "a", prefix: "--a\r\n", unit: "x\r"),
        .init(name: "empty parts", boundary: "a", prefix: "", unit: "\r\n--a\r\n"),
        .init(name: "empty named parts", boundary: "a", prefix: "", unit: "\r\n--a\r\nContent-Disposition: form-data; name=x\r\n\r\n"),
    ]
}

/// A small seeded generator, so the fuzzed bodies are the same every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The upload page checks its link before it reads a body (PostgreSQL: CALLBOARD_TEST_DATABASE_URL).
@Suite struct MultipartFormUploadTests {
    static let csv = "_timestamp\n2026-10-01\n"

    /// A data set of Sam's, and an upload link for it: (token, csrf).
    func uploadLink(_ app: TestApp) async throws -> (token: String, csrf: String) {
        let r = try await app.call(.post, "/api/v1/requests", json: Items.request(Items.all))
        let id = try #require(r.json["id"]?.stringValue)
        let ds = try await app.call(.post, "/api/v1/requests/\(id)/data-sets", json: DataSetAPITests.monthly)
        let dsID = try #require(ds.json["id"]?.stringValue)
        let link = NewLink(
            purpose: .upload, requestID: UUID(uuidString: id)!, email: "sam@dvla.gov.uk", requestVersion: 0, at: app.clock.now(),
            expiresAt: app.clock.now().addingTimeInterval(30 * 86_400), dataSetID: UUID(uuidString: dsID)!)
        try await app.db.withConnection { try await LinkStore.insert(link, on: $0, logger: TestDatabase.logger) }
        return (try await app.mintToken(for: link.record.id), link.record.csrf)
    }

    func form(csrf: String, file: String, boundary: String = "----cb7MA4YWxkTrZu0gW") -> String {
        "--\(boundary)\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\(csrf)\r\n"
            + "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\nContent-Type: text/csv\r\n\r\n\(file)\r\n"
            + "--\(boundary)--\r\n"
    }

    func post(_ app: TestApp, _ token: String, _ body: String, boundary: String) async throws -> TestResponse {
        try await app.call(.post, "/upload/\(token)", token: "", raw: body, contentType: "multipart/form-data; boundary=\(boundary)")
    }

    @Test func anUnknownLinkIsNotFoundAndARealOneStillUploads() async throws {
        try await TestApp.run { app in
            let adversarial = String(decoding: Adversarial.cases[0].body, as: UTF8.self)
            let unknown = try await post(app, NewLink.random(), adversarial, boundary: "a")
            #expect(unknown.status == .notFound)
            #expect(unknown.text.contains("Page not found"))

            let (token, csrf) = try await uploadLink(app)
            // The same body to a real link is read and parsed: no file in it.
            let empty = try await post(app, token, adversarial, boundary: "a")
            #expect(empty.status == .unprocessableContent)
            #expect(empty.text.contains("Select a CSV file to upload"))
            // One byte over 1 MB is refused whole.
            let tooBig = try await post(app, token, adversarial + "x", boundary: "a")
            #expect(tooBig.status == .contentTooLarge)
            #expect(try await app.count("data_set_uploads") == 0)

            let ok = try await post(app, token, form(csrf: csrf, file: Self.csv), boundary: "----cb7MA4YWxkTrZu0gW")
            #expect(ok.status == .ok, "\(ok.text)")
            #expect(ok.text.contains("Upload received") && ok.text.contains("1 rows"))
            #expect(try await app.count("data_set_uploads") == 1)
            let quoted = try await post(app, token, form(csrf: csrf, file: Self.csv, boundary: "x y"), boundary: "\"x y\"")
            #expect(quoted.status == .ok, "\(quoted.text)")
        }
    }

    /// Over a socket: only the request head of a 1 MB upload is sent, and the answer comes anyway for a link
    /// that is unknown (404) or expired (410): the body was never waited for. A real link waits for its body.
    @Test func theLinkIsCheckedBeforeTheBodyIsRead() async throws {
        try await TestApp.run(.live) { app in
            let port = try #require(app.client.port)
            let head = { (token: String) in
                "POST /upload/\(token) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: multipart/form-data; boundary=a\r\n"
                    + "Content-Length: \(Adversarial.size)\r\n\r\n"
            }
            #expect(await RawHTTP.statusLine(port: port, head(NewLink.random())) == "HTTP/1.1 404 Not Found")
            let (token, _) = try await uploadLink(app)
            #expect(await RawHTTP.statusLine(port: port, head(token), timeout: 1) == nil)
            app.clock.advance(by: 31 * 86_400)
            #expect(await RawHTTP.statusLine(port: port, head(token)) == "HTTP/1.1 410 Gone")
        }
    }
}

/// A request written straight to a socket, for what an HTTP client will not do: send a head and no body.
enum RawHTTP {
    /// The status line answered to `head` within `timeout` seconds; nil when none came.
    static func statusLine(port: Int, _ head: String, timeout: Int = 10) async -> String? {
        await withCheckedContinuation { c in
            // Blocking calls: on a thread of their own, not the test's executor.
            Thread.detachNewThread { c.resume(returning: exchange(port: port, head, timeout: timeout)) }
        }
    }

    private static func exchange(port: Int, _ head: String, timeout: Int) -> String? {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = Array(head.utf8)
        guard send(fd, request, request.count, 0) == request.count else { return nil }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !received.contains(10) {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { return nil }
            received += buffer[0..<n]
        }
        return String(decoding: received.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
    }
}
