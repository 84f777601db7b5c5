import CallboardDomain
import CallboardServices
import Foundation
import Hummingbird

/// `/staff/export/requests.csv` (the board's filters) and `/staff/export/events.csv?from=&to=`:
/// the API's CSV exports for a signed-in staff member, with the same rules for contact details.
extension StaffPages {
    func registerExports(_ r: PageRoutes) {
        r.on(.get, "/staff/export/requests.csv") { request, _ in
            try await signedIn(request) { who, _ in
                try exports.authorize(who)
                let filter = Self.boardFilter(FormQuery(request.uri))
                return CSVResponse.make(filename: exports.filename("requests")) { write in
                    try await exports.requests(filter, by: who, write: write)
                }
            }
        }
        r.on(.get, "/staff/export/events.csv") { request, _ in
            try await signedIn(request) { who, _ in
                try exports.authorize(who)
                var errors = ErrorCollector()
                let period = ExportPeriod.read(FormQuery(request.uri), errors: &errors)
                guard errors.isEmpty else {
                    return pages.message(
                        "The period is not right", errors.errors.map { "\($0.pointer): \($0.message)" }, status: .unprocessableContent)
                }
                return CSVResponse.make(filename: exports.filename("events")) { write in
                    try await exports.events(from: period.from, to: period.to, by: who, write: write)
                }
            }
        }
    }
}
