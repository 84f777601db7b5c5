import CallboardDomain
import CallboardServices
import Foundation
import HTTPTypes
import Hummingbird

/// The answers every emailed-link page gives alike.
extension PageRenderer {
    func notFound() -> Response {
        message(
            "Page not found",
            [
                "If you typed the web address, check it is correct.",
                "If you pasted it from an email, make sure you copied the entire address.",
            ], status: .notFound)
    }

    func formExpired(_ advice: String) -> Response {
        message("This form has expired", [advice], status: .forbidden)
    }

    func tooManyRequests(_ title: String, _ advice: String, retryAfter wait: Int) -> Response {
        var response = message(title, ["\(advice) Try again in \(wait / 60 + 1) minutes."], status: .tooManyRequests)
        response.headers[.retryAfter] = String(wait)
        return response
    }

    /// The refusals shared by every link page.
    func refusal(_ r: LinkRefusal, advice: String) -> Response {
        switch r {
        case .unknownLink: return notFound()
        case .badCSRF: return formExpired(advice)
        }
    }
}

extension PageRoutes {
    /// `POST <page>/:token/refresh`: an expired link's "Email me a new link", limited per link (the
    /// service counts it, by the link's id, only for a real link: an unknown one is a 404 that costs nothing).
    /// `refresh` answers false when there is nothing to refresh; `otherwise` renders the page then.
    func linkRefresh(
        _ page: String, pages: PageRenderer,
        refresh: @escaping @Sendable (_ token: String, _ csrf: String) async throws -> Bool,
        otherwise: @escaping @Sendable (_ token: String) async throws -> Response
    ) {
        on(.post, "/\(page)/:token/refresh") { request, context in
            let token = context.parameters.get("token") ?? ""
            let form = try await request.formBody(context: context)
            do {
                guard try await refresh(token, form["csrf"] ?? "") else { return try await otherwise(token) }
                return pages.message("Check your email", ["We have emailed you a new link."])
            } catch let r as LinkRefusal {
                return pages.refusal(r, advice: "Open the link in your email again.")
            } catch let limited as RateLimited {
                return pages.tooManyRequests("Too many requests", "We have already sent you new links.", retryAfter: limited.retryAfter)
            }
        }
    }
}

extension Request {
    /// An `application/x-www-form-urlencoded` body (at most the context's upload size).
    func formBody(context: AppContext) async throws -> [String: String] {
        FormBody.parse(try await body.collect(upTo: context.maxUploadSize).readableBytesView)
    }
}
