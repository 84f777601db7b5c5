import Foundation

/// An RFC 5322 message: multipart/alternative text + HTML in UTF-8, base64 bodies (so lines are
/// short and 7-bit), a stable Message-ID, and Auto-Submitted so auto-responders stay quiet.
public enum MIMEMessage {
    public static func render(_ e: OutgoingEmail) -> String {
        let boundary = "cb-" + e.id.lowercasedString
        let headers = [
            "Date: " + rfc5322Date(e.date),
            "From: " + encodeAddressHeader(e.from),
            "To: " + e.to,
            "Subject: " + encodeWord(e.subject),
            "Message-ID: " + e.messageID,
            "MIME-Version: 1.0",
            "Auto-Submitted: auto-generated",
            "X-Callboard-Kind: " + e.kind,
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
        ]
        var lines = headers
        lines.append("")
        for (type, body) in [("text/plain", e.text), ("text/html", e.html)] {
            lines.append("--" + boundary)
            lines.append("Content-Type: \(type); charset=utf-8")
            lines.append("Content-Transfer-Encoding: base64")
            lines.append("")
            lines.append(contentsOf: base64Lines(body))
        }
        lines.append("--" + boundary + "--")
        lines.append("")
        return lines.joined(separator: "\r\n")
    }

    static func base64Lines(_ s: String) -> [String] {
        let b64 = Data(s.utf8).base64EncodedString()
        return stride(from: 0, to: b64.count, by: 76).map { i in
            let start = b64.index(b64.startIndex, offsetBy: i)
            return String(b64[start..<b64.index(start, offsetBy: min(76, b64.count - i))])
        }
    }

    /// RFC 2047 encoded-word for non-ASCII header text.
    static func encodeWord(_ s: String) -> String {
        if s.allSatisfy({ $0.isASCII && $0 != "\r" && $0 != "\n" }) { return s }
        return "=?UTF-8?B?" + Data(s.utf8).base64EncodedString() + "?="
    }

    /// `Display Name <addr>` with the display name encoded when needed.
    static func encodeAddressHeader(_ s: String) -> String {
        guard let lt = s.lastIndex(of: "<") else { return s }
        let name = s[..<lt].trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? String(s[lt...]) : encodeWord(name) + " " + s[lt...]
    }

    /// The bare address of a `Name <addr>` header value.
    public static func address(_ s: String) -> String {
        guard let lt = s.lastIndex(of: "<"), let gt = s.lastIndex(of: ">"), lt < gt else { return s.trimmingCharacters(in: .whitespaces) }
        return String(s[s.index(after: lt)..<gt])
    }

    /// `Wed, 25 Nov 2026 18:47:15 +0000`, built from gmtime_r (a DateFormatter per message is costly).
    static func rfc5322Date(_ d: Date) -> String {
        var seconds = time_t(d.timeIntervalSince1970.rounded(.down))
        var t = tm()
        gmtime_r(&seconds, &t)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return
            "\(days[Int(t.tm_wday)]), \(two(t.tm_mday)) \(months[Int(t.tm_mon)]) \(t.tm_year + 1900) \(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)) +0000"
    }

    /// SMTP transparency (RFC 5321 §4.5.2): a line starting with "." gets another ".".
    public static func dotStuffed(_ message: String) -> String {
        message.components(separatedBy: "\r\n").map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n")
    }
}
