/// Splits a migration file into statements, since the extended query protocol takes one at a time.
/// Semicolons inside quotes, dollar-quoted bodies ($$ … $$) and comments do not split.
import Foundation

public enum SQLScript {
    public static func statements(_ sql: String) -> [String] {
        var out: [String] = []
        var current = ""
        let chars = Array(sql)
        var i = 0
        var dollarTag: String?  // inside $tag$ … $tag$
        var quote: Character?  // inside '…' or "…"
        while i < chars.count {
            let c = chars[i]
            let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
            if let tag = dollarTag {
                if c == "$", String(chars[i..<min(chars.count, i + tag.count)]) == tag {
                    current += tag
                    i += tag.count
                    dollarTag = nil
                    continue
                }
            } else if let q = quote {
                if c == q { quote = nil }
            } else if c == "-", next == "-" {
                while i < chars.count, chars[i] != "\n" { i += 1 }
                continue
            } else if c == "/", next == "*" {
                i += 2
                while i + 1 < chars.count, !(chars[i] == "*" && chars[i + 1] == "/") { i += 1 }
                i += 2
                continue
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "$" {
                var j = i + 1
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                if j < chars.count, chars[j] == "$" {
                    let tag = String(chars[i...j])
                    current += tag
                    i = j + 1
                    dollarTag = tag
                    continue
                }
            } else if c == ";" {
                let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !s.isEmpty { out.append(s) }
                current = ""
                i += 1
                continue
            }
            current.append(c)
            i += 1
        }
        let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !s.isEmpty { out.append(s) }
        return out
    }
}
