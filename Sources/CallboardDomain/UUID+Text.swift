import Foundation

extension UUID {
    /// The id as the API, events and links write it: lower-case hex with dashes.
    public var lowercasedString: String { uuidString.lowercased() }
}
