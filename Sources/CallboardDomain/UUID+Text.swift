import Foundation

extension UUID {
    /// The id as the API, events and links write it: lower-case hex with dashes (8-4-4-4-12).
    /// Written from the id's bytes: `uuidString.lowercased()` made two strings and walked Unicode
    /// case rules for every id of every list row.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                let digits: StaticString = "0123456789abcdef"
                var i = 0
                for (n, b) in bytes.enumerated() {
                    if n == 4 || n == 6 || n == 8 || n == 10 {
                        out[i] = UInt8(ascii: "-")
                        i += 1
                    }
                    out[i] = digits.utf8Start[Int(b >> 4)]
                    out[i + 1] = digits.utf8Start[Int(b & 0x0F)]
                    i += 2
                }
                return i
            }
        }
    }
}
