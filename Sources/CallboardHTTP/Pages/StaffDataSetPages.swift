import CallboardDomain
import CallboardServices
import Foundation
import HTTPTypes
import Hummingbird

/// `/staff/requests/{id}/data-sets…`: a request's data sets, their uploaders and write tokens.
extension StaffPages {
    func registerDataSets(_ r: PageRoutes) {}
}
