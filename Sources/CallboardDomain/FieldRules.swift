import Foundation

/// Format rules for the values people type: checked at the edge, each returning the
/// human message to show, or nil when the value is acceptable.
public enum FieldRules {
    /// A pragmatic address check (local@domain.tld), not full RFC 5322: what GOV.UK Notify accepts.
    public static func emailProblem(_ s: String) -> String? {
        if s.count > 254 { return "must be at most 254 characters" }
        let invalid = "must be an email address, like name@example.gov.uk"
        // Every allowed character is ASCII, so the checks go by bytes (a byte of a longer character is never allowed).
        let parts = s.utf8.split(separator: UInt8(ascii: "@"), omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64 else { return invalid }
        let local = parts[0]
        let domain = parts[1]
        guard local.allSatisfy(isLocalPartByte), local.first != UInt8(ascii: "."), local.last != UInt8(ascii: "."),
            !zip(local, local.dropFirst()).contains(where: { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") })
        else { return invalid }
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2,
            labels.allSatisfy({
                !$0.isEmpty && $0.count <= 63 && $0.first != UInt8(ascii: "-") && $0.last != UInt8(ascii: "-") && $0.allSatisfy(isLabelByte)
            }),
            let tld = labels.last, tld.count >= 2, tld.allSatisfy(isASCIILetter)
        else { return invalid }
        return nil
    }

    static func isASCIILetter(_ b: UInt8) -> Bool { (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }
    static func isASCIIDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    /// Letters, digits and `-`: what a domain's label may hold.
    static func isLabelByte(_ b: UInt8) -> Bool { isASCIILetter(b) || isASCIIDigit(b) || b == UInt8(ascii: "-") }
    /// Letters, digits and ``.!#$%&'*+/=?^_`{|}~-``: what the part before the @ may hold.
    static func isLocalPartByte(_ b: UInt8) -> Bool { isASCIILetter(b) || isASCIIDigit(b) || localPunctuation.contains(b) }
    static let localPunctuation: [UInt8] = Array(".!#$%&'*+/=?^_`{|}~-".utf8)
    static let phonePunctuation: [UInt8] = Array(" +()-".utf8)

    /// UK or international phone numbers: digits with optional spaces, brackets, dashes and a leading +.
    public static func phoneProblem(_ s: String) -> String? {
        let message = "must be a phone number, like 020 7946 0000 or +44 20 7946 0000"
        guard s.utf8.allSatisfy({ isASCIIDigit($0) || phonePunctuation.contains($0) }) else { return message }
        if s.utf8.dropFirst().contains(UInt8(ascii: "+")) { return message }
        let digits = s.utf8.filter(isASCIIDigit).count
        guard (10...15).contains(digits) else { return "must have between 10 and 15 digits" }
        return nil
    }

    /// Control characters in text: a single-line value (a name, a department) refuses line breaks
    /// (CR, LF, NEL, U+2028, U+2029), tabs and every other control character; a multi-line value (a
    /// description, a reason) may keep CR and LF but no other control character, tab included.
    public static func controlCharacterProblem(_ s: String, singleLine: Bool) -> String? {
        var lineBreak = false
        for c in s.unicodeScalars {
            switch c {
            case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}":
                if singleLine { lineBreak = true } else if c == "\u{85}" { return controlMessage }
            case "\u{0}"..."\u{1F}", "\u{7F}"..."\u{9F}":
                return controlMessage
            default:
                continue
            }
        }
        return lineBreak ? "must be on one line, without line breaks" : nil
    }

    static let controlMessage = "must not contain tabs or other control characters"

    /// An absolute https URL with a host; service URLs must be https.
    public static func httpsURLProblem(_ s: String) -> String? {
        if s.count > 2048 { return "must be at most 2048 characters" }
        guard let url = URL(string: s), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
            !s.contains(" ")
        else { return "must be a full URL starting with https://" }
        guard scheme == "https" else { return "must start with https://" }
        guard host.contains("."), !host.hasPrefix("."), !host.hasSuffix(".") else {
            return "must be a full URL starting with https://"
        }
        return nil
    }
}

extension ObjectReader {
    public mutating func email(_ key: String, required: Bool) -> String? {
        guard let s = string(key, required: required, maxLength: 254, singleLine: true) else { return nil }
        if let p = FieldRules.emailProblem(s) {
            errors.add(path(key), p)
            return nil
        }
        return s.lowercased()
    }

    public mutating func phone(_ key: String, required: Bool) -> String? {
        guard let s = string(key, required: required, maxLength: 30, singleLine: true) else { return nil }
        if let p = FieldRules.phoneProblem(s) {
            errors.add(path(key), p)
            return nil
        }
        return s
    }

    public mutating func httpsURL(_ key: String, required: Bool) -> String? {
        guard let s = string(key, required: required, maxLength: 2048, singleLine: true) else { return nil }
        if let p = FieldRules.httpsURLProblem(s) {
            errors.add(path(key), p)
            return nil
        }
        return s
    }
}
