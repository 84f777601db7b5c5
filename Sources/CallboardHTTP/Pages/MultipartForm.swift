import Foundation

/// Reads a `multipart/form-data` body (RFC 7578): each part's name and bytes. Enough for one file
/// and a few text fields; parts without a name are skipped.
enum MultipartForm {
    static func boundary(fromContentType type: String) -> String? {
        guard type.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for param in type.split(separator: ";").dropFirst() {
            let kv = param.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].lowercased() == "boundary" {
                // RFC 2046: 1 to 70 characters. Longer ones would only make the search slower.
                let b = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return (1...70).contains(b.count) ? b : nil
            }
        }
        return nil
    }

    static func parse(_ body: [UInt8], boundary: String) -> [String: [UInt8]] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [String: [UInt8]] = [:]
        var starts: [Int] = []
        var i = 0
        while let at = find(delimiter, in: body, from: i) {
            starts.append(at)
            i = at + delimiter.count
        }
        for (n, start) in starts.enumerated() where n + 1 < starts.count {
            var from = start + delimiter.count
            // Skip the line break after the delimiter; the part ends before the CRLF that precedes the next one.
            if body[from...].starts(with: [13, 10]) { from += 2 }
            var end = starts[n + 1]
            if end >= 2, body[end - 2] == 13, body[end - 1] == 10 { end -= 2 }
            guard from <= end, let headerEnd = find([13, 10, 13, 10], in: body, from: from), headerEnd + 4 <= end else { continue }
            let headers = String(decoding: body[from..<headerEnd], as: UTF8.self)
            guard let name = dispositionName(headers) else { continue }
            if parts[name] == nil { parts[name] = Array(body[(headerEnd + 4)..<end]) }
        }
        return parts
    }

    static func dispositionName(_ headers: String) -> String? {
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            for param in line.split(separator: ";").dropFirst() {
                let kv = param.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].lowercased() == "name" { return kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            }
        }
        return nil
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var i = start
        let first = needle[0]
        while i <= haystack.count - needle.count {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
