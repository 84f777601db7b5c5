/// Text made safe to open in a spreadsheet (CSV injection, OWASP "CSV Injection"): a spreadsheet
/// reads a cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return before one) as a
/// formula, which can run commands or send data away. Every CSV export writes each text value
/// through `SpreadsheetSafe.text(_:)` before quoting it.
public enum SpreadsheetSafe {
    /// `value` with a leading apostrophe when it starts with `=`, `+`, `-`, `@`, a tab or a carriage
    /// return and is not a plain number (`-12`, `+3.5`, `-1e6` stay numbers); otherwise unchanged.
    public static func text(_ value: String) -> String {
        guard let first = value.unicodeScalars.first, triggers.contains(first), !isPlainNumber(value) else { return value }
        return "'" + value
    }

    static let triggers: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]

    /// An optional sign, digits with an optional decimal point, and an optional exponent: nothing a
    /// spreadsheet could read as a formula.
    static func isPlainNumber(_ s: String) -> Bool {
        var chars = Array(s.unicodeScalars)[...]
        func digits() -> Int {
            var n = 0
            while let c = chars.first, ("0"..."9").contains(c) {
                chars.removeFirst()
                n += 1
            }
            return n
        }
        if let c = chars.first, c == "+" || c == "-" { chars.removeFirst() }
        var mantissa = digits()
        if chars.first == "." {
            chars.removeFirst()
            mantissa += digits()
        }
        guard mantissa > 0 else { return false }
        if let c = chars.first, c == "e" || c == "E" {
            chars.removeFirst()
            if let c = chars.first, c == "+" || c == "-" { chars.removeFirst() }
            guard digits() > 0 else { return false }
        }
        return chars.isEmpty
    }
}
