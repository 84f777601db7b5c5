/// Bank-holiday divisions of the GOV.UK feed; a request's working days follow its division.
public enum Division: String, CaseIterable, Codable, Sendable {
    case englandAndWales = "england-and-wales"
    case scotland
    case northernIreland = "northern-ireland"
}
