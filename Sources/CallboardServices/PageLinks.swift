import CallboardStorage
import Foundation
import Logging
import PostgresNIO

/// What any page reached by an emailed link refuses, whatever its purpose.
public enum LinkRefusal: Error, Sendable, Equatable {
    /// No link of that purpose, or it no longer acts for its person: the page says "not found".
    case unknownLink
    /// The form did not carry the link's CSRF token.
    case badCSRF
}

enum PageLinks {
    /// The link a token names, if it has `purpose`, with its request.
    static func open(_ token: String, purpose: LinkPurpose, db: PostgresClient, logger: Logger) async throws -> (LinkRecord, RequestRecord) {
        guard let link = try await LinkStore.find(token: token, on: db, logger: logger), link.purpose == purpose,
            let r = try await RequestStore.fetch(link.requestID, on: db, logger: logger)
        else { throw LinkRefusal.unknownLink }
        return (link, r)
    }

    /// A form posted from a link's page must carry that link's CSRF token.
    static func requireCSRF(_ given: String, of link: LinkRecord) throws {
        guard StaffService.constantTimeEquals(Array(given.utf8), Array(link.csrf.utf8)) else { throw LinkRefusal.badCSRF }
    }
}
