/// Writes JSON straight into bytes for a response of fixed shape that is sent often (the triage
/// list: 51 summaries of 18 fields each). Building a `JSONValue` tree for it meant a dictionary
/// per row, hashing every key, then sorting the keys again to write them: a quarter of the server's
/// CPU in a list (docs/performance.md). Callers write keys in sorted order, so the bytes are the
/// ones `JSONValue.serialized()` gives for the same value (the tests check exactly that).
public struct JSONStreamWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int) { bytes.reserveCapacity(capacity) }

    public mutating func beginObject() { open(UInt8(ascii: "{")) }
    public mutating func endObject() { close(UInt8(ascii: "}")) }
    public mutating func beginArray() { open(UInt8(ascii: "[")) }
    public mutating func endArray() { close(UInt8(ascii: "]")) }

    public mutating func key(_ name: String) {
        separate()
        JSONValue.writeString(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A string, or null when nil.
    public mutating func string(_ s: String?) {
        separate()
        if let s { JSONValue.writeString(s, into: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
        needsComma = true
    }

    public mutating func bool(_ b: Bool) {
        separate()
        bytes.append(contentsOf: (b ? "true" : "false").utf8)
        needsComma = true
    }

    /// An integer as `JSONValue.number` writes a whole number.
    public mutating func int(_ n: Int) {
        separate()
        JSONValue.number(Double(n)).write(into: &bytes)
        needsComma = true
    }

    /// Any value, as `JSONValue.serialized()` writes it (its object keys sorted).
    public mutating func value(_ v: JSONValue) {
        separate()
        v.write(into: &bytes)
        needsComma = true
    }

    private mutating func open(_ b: UInt8) {
        separate()
        bytes.append(b)
        needsComma = false
    }

    private mutating func close(_ b: UInt8) {
        bytes.append(b)
        needsComma = true
    }

    private mutating func separate() { if needsComma { bytes.append(UInt8(ascii: ",")) } }
}
