import Foundation

/// RFC 3339 UTC timestamps with milliseconds, formatted without a DateFormatter (which is costly
/// to create and not meant to be shared across threads).
public enum Timestamp {
    public static func rfc3339(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000)
        let millis = Int(ms - Int64(seconds) * 1000)
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return
            "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// RFC 3339 with or without fractional seconds (the API writes them with).
    /// (Foundation's format styles are values built once, unlike a formatter per call.)
    public static func parse(_ s: String) -> Date? {
        (try? Date(s, strategy: plain)) ?? (try? Date(s, strategy: fractional))
    }

    static let plain = Date.ISO8601FormatStyle()
    static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
