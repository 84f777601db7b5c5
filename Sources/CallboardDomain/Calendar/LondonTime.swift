import Foundation

extension London {
    /// An instant as people in London read it, with the zone: "Tuesday 1 December 2026, 10:05am GMT".
    public static func dateTimeText(_ instant: Date) -> String {
        let offset = offsetSeconds(at: instant)
        let local = Int((instant.timeIntervalSince1970 + Double(offset)).rounded(.down))
        let minutes = ((local % 86_400) + 86_400) % 86_400 / 60
        let hour = minutes / 60
        let clock = "\(hour % 12 == 0 ? 12 : hour % 12):\(String(format: "%02d", minutes % 60))\(hour < 12 ? "am" : "pm")"
        return "\(date(of: instant).longText), \(clock) \(offset == 0 ? "GMT" : "BST")"
    }
}
