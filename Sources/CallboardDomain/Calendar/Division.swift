/// Bank-holiday divisions of the GOV.UK feed; a request's working days follow its division.
public enum Division: String, CaseIterable, Codable, Sendable {
    case englandAndWales = "england-and-wales"
    case scotland
    case northernIreland = "northern-ireland"

    /// As people say it.
    public var title: String {
        switch self {
        case .englandAndWales: return "England and Wales"
        case .scotland: return "Scotland"
        case .northernIreland: return "Northern Ireland"
        }
    }
}
