import Foundation

/// An RFC 5322 message: multipart/alternative text + HTML in UTF-8, base64 bodies (so lines are
/// short and 7-bit), a stable Message-ID, and Auto-Submitted so auto-responders stay quiet.
public enum MIMEMessage {
    public static func render(_ e: OutgoingEmail) -> String {
        let boundary = "cb-" + e.id.uuidString.lowercased()
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

    static func rfc5322Date(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return f.string(from: d)
    }

    /// SMTP transparency (RFC 5321 §4.5.2): a line starting with "." gets another ".".
    public static func dotStuffed(_ message: String) -> String {
        message.components(separatedBy: "\r\n").map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n")
    }
}
