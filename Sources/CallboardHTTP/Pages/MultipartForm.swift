import Foundation

/// Reads a `multipart/form-data` body (RFC 7578, RFC 2046 §5.1.1): each part's name and bytes. Enough for one file
/// and a few text fields; parts without a name are skipped, and a name seen twice keeps its first value.
///
/// One forward pass, so the work is linear in the body whatever the body and boundary: a byte is looked at
/// no more than a few times (`Scan.steps` counts the looks, for the tests). At most `maxParts` parts of at
/// most `maxHeaders` header lines are read. A part counts only when a well-formed delimiter line ends it;
/// anything malformed ends the reading, keeping the parts before it.
enum MultipartForm {
    static let maxParts = 20
    static let maxHeaders = 8

    static func boundary(fromContentType type: String) -> String? {
        guard type.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for param in type.split(separator: ";").dropFirst() {
            let kv = param.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].lowercased() == "boundary" {
                var b = Substring(kv[1])
                if b.count >= 2, b.first == "\"", b.last == "\"" { b = b.dropFirst().dropLast() }
                // RFC 2046: 1 to 70 of its characters, not ending in a space.
                guard (1...70).contains(b.utf8.count), b.utf8.allSatisfy(isBoundaryByte), b.last != " " else { return nil }
                return String(b)
            }
        }
        return nil
    }

    /// RFC 2046 `bchars`: digits, letters, `'()+_,-./:=?` and space.
    private static func isBoundaryByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): true
        default: Array("'()+_,-./:=? ".utf8).contains(c)
        }
    }

    static func parse(_ body: [UInt8], boundary: String) -> [String: [UInt8]] {
        var scan = Scan(body, boundary: boundary)
        return scan.parts()
    }

    /// The parts, and the number of byte comparisons it took.
    static func parseCountingSteps(_ body: [UInt8], boundary: String) -> (parts: [String: [UInt8]], steps: Int) {
        var scan = Scan(body, boundary: boundary)
        let parts = scan.parts()
        return (parts, scan.steps)
    }

    struct Scan {
        let body: [UInt8]
        /// CRLF, "--" and the boundary: what ends a part's content and starts the next delimiter line.
        let delimiter: [UInt8]
        /// Bytes of the body compared so far.
        private(set) var steps = 0

        init(_ body: [UInt8], boundary: String) {
            self.body = body
            delimiter = Array("\r\n--\(boundary)".utf8)
        }

        mutating func parts() -> [String: [UInt8]] {
            // A boundary with no CR in it is what keeps `find` linear (and a CR is not a boundary character anyway).
            guard (5...74).contains(delimiter.count), !delimiter.dropFirst().contains(13) else { return [:] }
            var parts: [String: [UInt8]] = [:]
            // The first delimiter may open the body without a CRLF before it; any preamble is skipped.
            var pos: Int
            if matches(delimiter.dropFirst(2), at: 0) {
                pos = delimiter.count - 2
            } else if let at = find(from: 0) {
                pos = at + delimiter.count
            } else {
                return [:]
            }
            var pending: (name: String?, content: Range<Int>)?
            var read = 0
            while true {
                // Just after a boundary: "--" closes the body; otherwise optional spaces and a CRLF start a part.
                let closes = matches([45, 45], at: pos)
                if !closes {
                    while pos < body.count, body[pos] == 32 || body[pos] == 9 {
                        steps += 1
                        pos += 1
                    }
                    guard matches([13, 10], at: pos) else { break }
                }
                // A well-formed delimiter line: the part it ends counts.
                if let part = pending, let name = part.name, !name.isEmpty, parts[name] == nil { parts[name] = Array(body[part.content]) }
                pending = nil
                guard !closes, read < MultipartForm.maxParts else { break }
                read += 1
                pos += 2
                // Header lines up to a blank one.
                var name: String?
                var blank: Int?
                for _ in 0...MultipartForm.maxHeaders {
                    guard let end = lineEnd(from: pos) else { break }
                    if end == pos {
                        blank = pos
                        break
                    }
                    if name == nil { name = MultipartForm.dispositionName(body[pos..<end]) }
                    pos = end + 2
                }
                // The content runs to the next delimiter, whose CRLF may be the blank line's own (empty content).
                guard let blank, let next = find(from: blank) else { break }
                pending = (name, min(blank + 2, next)..<next)
                pos = next + delimiter.count
            }
            return parts
        }

        /// Whether `bytes` are in the body at `pos`.
        private mutating func matches(_ bytes: some Collection<UInt8>, at pos: Int) -> Bool {
            guard pos + bytes.count <= body.count else { return false }
            var i = pos
            for b in bytes {
                steps += 1
                guard body[i] == b else { return false }
                i += 1
            }
            return true
        }

        /// The first delimiter at or after `from`. A candidate starts at a CR, and a partial match is never looked
        /// at again: the bytes it matched are the delimiter's after its CR, none of them a CR, so none starts a
        /// candidate. So each byte is compared at most twice (once more when it broke a partial match).
        private mutating func find(from: Int) -> Int? {
            let k = delimiter.count
            var i = from
            while i + k <= body.count {
                steps += 1
                guard body[i] == 13 else {
                    i += 1
                    continue
                }
                var m = 1
                while m < k {
                    steps += 1
                    guard body[i + m] == delimiter[m] else { break }
                    m += 1
                }
                if m == k { return i }
                i += m
            }
            return nil
        }

        /// Where the CRLF ending the line at `from` is.
        private mutating func lineEnd(from: Int) -> Int? {
            var i = from
            while i + 1 < body.count {
                steps += 1
                if body[i] == 13 {
                    steps += 1
                    if body[i + 1] == 10 { return i }
                }
                i += 1
            }
            return nil
        }
    }

    /// The `name` of a `Content-Disposition: form-data; name="x"; filename="y"` header line; nil for other headers.
    /// Quoted values may hold `;` and backslash-escaped characters.
    static func dispositionName(_ line: ArraySlice<UInt8>) -> String? {
        let text = String(decoding: line, as: UTF8.self)
        guard let colon = text.firstIndex(of: ":"), text[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "content-disposition"
        else { return nil }
        var params: [(key: String, value: String)] = []
        var key = ""
        var value = ""
        var inKey = true
        var quoted = false
        var escaped = false
        for c in text[text.index(after: colon)...] {
            if quoted {
                if escaped {
                    value.append(c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    quoted = false
                } else {
                    value.append(c)
                }
            } else if c == ";" {
                params.append((key, value))
                (key, value, inKey) = ("", "", true)
            } else if c == " " || c == "\t" {
                continue
            } else if inKey {
                if c == "=" { inKey = false } else { key.append(c) }
            } else if c == "\"" {
                quoted = true
            } else {
                value.append(c)
            }
        }
        params.append((key, value))
        return params.dropFirst().first { $0.key.lowercased() == "name" }?.value
    }
}
