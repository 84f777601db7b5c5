import CallboardHTTP
import CallboardServices
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Form posts are accepted only from Callboard's public address (`CALLBOARD_BASE_URL`), whatever
/// `Host` a proxy in front passes on.
@Suite struct PageOriginTests {
    static let baseURL = "https://callboard.example.gov.uk"

    /// The application behind a proxy: served at `baseURL`, every request arriving with
    /// `Host: localhost` (the in-process test client's).
    static func behindProxy(_ body: @Sendable @escaping (any TestClientProtocol) async throws -> Void) async throws {
        try await TestDatabase.with { db, _ in
            let deps = AppDependencies(db: db, time: TestClock(), logger: TestDatabase.logger, email: EmailSettings(baseURL: baseURL))
            let app = Application(router: try buildRouter(deps), logger: TestDatabase.logger)
            try await app.test(.router, body)
        }
    }

    /// The status of a sign-in form post sent with `origin` (nil: no Origin header).
    static func signIn(_ client: any TestClientProtocol, origin: String?) async throws -> HTTPResponse.Status {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let origin { headers[.origin] = origin }
        return try await client.execute(
            uri: "/staff/sign-in", method: .post, headers: headers, body: ByteBuffer(string: "email=nobody%40example.gov.uk")
        ).status
    }

    @Test func aPostFromThePublicAddressIsAcceptedWhateverTheHost() async throws {
        try await Self.behindProxy { client in
            let statuses = [
                try await Self.signIn(client, origin: "https://callboard.example.gov.uk"),
                // The same origin with its default port, and in capitals, is the same origin.
                try await Self.signIn(client, origin: "https://CALLBOARD.example.gov.uk:443"),
                // Not a browser: the forms' CSRF tokens apply instead.
                try await Self.signIn(client, origin: nil),
            ]
            #expect(statuses == [.ok, .ok, .ok])
        }
    }

    @Test func aPostFromAnyOtherOriginIsRefused() async throws {
        try await Self.behindProxy { client in
            let statuses = [
                // The request's own Host is not the public address.
                try await Self.signIn(client, origin: "http://localhost"),
                try await Self.signIn(client, origin: "https://evil.example"),
                try await Self.signIn(client, origin: "null"),
                // Same host, another scheme or port; a host that only starts like it.
                try await Self.signIn(client, origin: "http://callboard.example.gov.uk"),
                try await Self.signIn(client, origin: "https://callboard.example.gov.uk:8443"),
                try await Self.signIn(client, origin: "https://callboard.example.gov.uk.evil.example"),
            ]
            #expect(statuses == Array(repeating: .forbidden, count: 6))
        }
    }
}
