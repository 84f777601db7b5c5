import CallboardServices
import Foundation
import HTTPTypes
import Hummingbird

/// The Mustache pages shipped with the program (`Resources/pages`), rendered as HTML responses
/// with the security headers every page carries.
struct PageRenderer: Sendable {
    let library: TemplateLibrary
    let css: String

    static func bundled() throws -> PageRenderer {
        guard let dir = Bundle.module.url(forResource: "pages", withExtension: nil, subdirectory: "Resources"),
            let cssURL = Bundle.module.url(forResource: "callboard", withExtension: "css", subdirectory: "Resources/assets")
        else {
            throw MissingResource()
        }
        return PageRenderer(
            library: try TemplateLibrary(directory: dir), css: try String(contentsOf: cssURL, encoding: .utf8))
    }

    struct MissingResource: Error {}

    /// 303 to another page (after a successful form post).
    func redirect(_ location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    func page(_ template: String, _ context: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let html = library.render(context, withTemplate: template) ?? ""
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A page with a heading and paragraphs (and optionally the success panel or the new-link button).
    func message(
        _ title: String, _ paragraphs: [String], panel: Bool = false, panelBody: String? = nil, refresh: (action: String, csrf: String)? = nil,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        var c: [String: Any] = ["title": title, "paragraphs": paragraphs, "panel": panel]
        if let b = panelBody { c["panel_body"] = b }
        if let r = refresh {
            c["refresh"] = true
            c["refresh_action"] = r.action
            c["csrf"] = r.csrf
        }
        return page("message", c, status: status)
    }
}

/// Headers for every HTML page: no inline script (there is no script), no framing, no sniffing,
/// and no referrer (links carry tokens).
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        Self.apply(to: &response.headers)
        return response
    }

    /// The headers, for a page answered outside the pages' routes (the 503 while the database is away).
    static func apply(to headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] =
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        // same-origin: page addresses (which carry tokens) never leave the site, and same-site form
        // posts still carry an Origin for SameOriginMiddleware (no-referrer would make it "null").
        headers[.init("Referrer-Policy")!] = "same-origin"
        headers[.init("X-Frame-Options")!] = "DENY"
    }
}

/// Refuses a cross-site form post: a browser names the page a POST came from in `Origin`, whose
/// scheme, host and port must be those of Callboard's public address (`CALLBOARD_BASE_URL`), not
/// the request's `Host`, which a proxy in front may rewrite. `Origin: null` (a sandboxed or
/// privacy-redirected page) is refused too. Without `Origin` (not a browser) the forms' CSRF
/// tokens still apply. Guards the sign-in exchange too, which has no token of its own yet.
struct SameOriginMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The public address's origin; nil (an unparsable address) refuses every post that names an origin.
    let allowed: WebOrigin?

    init(baseURL: String) {
        allowed = WebOrigin(baseURL)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .post, let origin = request.headers[.origin] {
            guard let allowed, WebOrigin(origin) == allowed else {
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; charset=utf-8"
                return Response(
                    status: .forbidden, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "Cross-site form posts are refused.\n")))
            }
        }
        return try await next(request, context)
    }
}

/// The scheme, host and port of an http(s) address (RFC 6454), the port made explicit.
struct WebOrigin: Equatable {
    var scheme: String
    var host: String
    var port: Int

    /// nil unless `text` is an http or https address with a host (`null` is not).
    init?(_ text: String) {
        guard let c = URLComponents(string: text), let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = c.host?.lowercased(), !host.isEmpty
        else { return nil }
        self.scheme = scheme
        self.host = host
        port = c.port ?? (scheme == "https" ? 443 : 80)
    }
}

/// Reads an `application/x-www-form-urlencoded` body into a flat map, first value winning. Not
/// Hummingbird's `URLEncodedFormDecoder`: the item forms have a variable number of numbered row
/// fields (`uploader_3_email`) and drafts keep whatever the form holds, which a fixed `Decodable`
/// shape cannot describe; this reader is linear and bounded by the body limit.
enum FormBody {
    static func parse(_ bytes: some Collection<UInt8>) -> [String: String] {
        var out: [String: String] = [:]
        for pair in String(decoding: bytes, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            guard let key = parts.first.map(decode), !key.isEmpty else { continue }
            if out[key] == nil { out[key] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return out
    }
}

/// Routes of the HTML pages: like the API's, but not part of the OpenAPI document.
struct PageRoutes {
    let group: RouterGroup<AppContext>

    func on(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping @Sendable (Request, AppContext) async throws -> Response) {
        group.on(RouterPath(path), method: method, use: handler)
    }
}
