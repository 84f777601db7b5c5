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
        let year = Int(t.tm_year) + 1900
        guard (0...9999).contains(year) else {
            return String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                t.tm_sec, millis)
        }
        // Written digit by digit into the string's own storage: a list of 50 rows formats 200 of these.
        return String(unsafeUninitializedCapacity: 24) { b in
            func put(_ v: Int, _ width: Int, at i: Int) {
                var v = v
                for k in stride(from: i + width - 1, through: i, by: -1) {
                    b[k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            put(year, 4, at: 0)
            b[4] = UInt8(ascii: "-")
            put(Int(t.tm_mon) + 1, 2, at: 5)
            b[7] = UInt8(ascii: "-")
            put(Int(t.tm_mday), 2, at: 8)
            b[10] = UInt8(ascii: "T")
            put(Int(t.tm_hour), 2, at: 11)
            b[13] = UInt8(ascii: ":")
            put(Int(t.tm_min), 2, at: 14)
            b[16] = UInt8(ascii: ":")
            put(Int(t.tm_sec), 2, at: 17)
            b[19] = UInt8(ascii: ".")
            put(millis, 3, at: 20)
            b[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// RFC 3339 with or without fractional seconds (the API writes them with).
    /// (Foundation's format styles are values built once, unlike a formatter per call.)
    public static func parse(_ s: String) -> Date? {
        (try? Date(s, strategy: plain)) ?? (try? Date(s, strategy: fractional))
    }

    static let plain = Date.ISO8601FormatStyle()
    static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}
