import CallboardDomain
import Foundation

/// An RFC 5322 message: multipart/alternative text + HTML in UTF-8, base64 bodies (so lines are
/// short and 7-bit), a stable Message-ID, and Auto-Submitted so auto-responders stay quiet.
public enum MIMEMessage {
    public static func render(_ e: OutgoingEmail) -> String { String(decoding: bytes(e), as: UTF8.self) }

    /// The message as bytes, written straight into one buffer (lines ended by CRLF) rather than
    /// joined from an array of strings.
    public static func bytes(_ e: OutgoingEmail) -> [UInt8] {
        let boundary = "cb-" + e.id.lowercasedString
        var out: [UInt8] = []
        out.reserveCapacity(1024 + (e.text.utf8.count + e.html.utf8.count) / 3 * 4 * 78 / 76 + 16)
        func line(_ parts: String...) {
            for p in parts { out.append(contentsOf: p.utf8) }
            out.append(contentsOf: crlf)
        }
        line("Date: ", rfc5322Date(e.date))
        line("From: ", encodeAddressHeader(e.from))
        line("To: ", e.to)
        line("Subject: ", encodeWord(e.subject))
        line("Message-ID: ", e.messageID)
        line("MIME-Version: 1.0")
        line("Auto-Submitted: auto-generated")
        line("X-Callboard-Kind: ", e.kind)
        line("Content-Type: multipart/alternative; boundary=\"", boundary, "\"")
        line()
        for (type, body) in [("text/plain", e.text), ("text/html", e.html)] {
            line("--", boundary)
            line("Content-Type: ", type, "; charset=utf-8")
            line("Content-Transfer-Encoding: base64")
            line()
            appendBase64Lines(body, to: &out)
        }
        line("--", boundary, "--")
        return out
    }

    static let crlf: [UInt8] = [13, 10]

    /// The body's UTF-8 in base64, 76 characters a line (RFC 2045 §6.8), each line ended by CRLF;
    /// an empty body has no lines at all. Foundation's encoder, appended as bytes: cutting its
    /// output into lines by String offsets, as this once did, was quadratic (a third of a worker's CPU).
    static func appendBase64Lines(_ text: String, to out: inout [UInt8]) {
        guard !text.isEmpty else { return }
        out.append(
            contentsOf: Data(text.utf8).base64EncodedData(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed]))
        out.append(contentsOf: crlf)
    }

    /// RFC 2047 encoded-word for non-ASCII header text.
    static func encodeWord(_ s: String) -> String {
        if s.allSatisfy({ $0.isASCII && $0 != "\r" && $0 != "\n" }) { return s }
        return "=?UTF-8?B?" + Data(s.utf8).base64EncodedString() + "?="
    }

    /// `Display Name <addr>` with the display name encoded when needed.
    static func encodeAddressHeader(_ s: String) -> String {
        guard let lt = s.lastIndex(of: "<") else { return s }
        // Trimmed by scalars: Foundation's trimming (through NSString) was 8% of a worker's CPU.
        let name = String(s[..<lt]).trimmedOfWhitespace
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

    /// SMTP transparency (RFC 5321 §4.5.2): a line starting with "." gets another ".". Rendered
    /// messages hold none (headers and base64 lines never start with one), so most are returned as
    /// they are after one scan of their bytes.
    public static func dotStuffed(_ message: String) -> String {
        var atLineStart = true
        var needed = false
        for byte in message.utf8 {
            if atLineStart && byte == UInt8(ascii: ".") {
                needed = true
                break
            }
            atLineStart = byte == UInt8(ascii: "\n")
        }
        guard needed else { return message }
        return message.components(separatedBy: "\r\n").map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n")
    }
}
