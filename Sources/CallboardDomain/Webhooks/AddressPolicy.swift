/// Which IP addresses a webhook may be delivered to: none of the private, loopback, link-local,
/// shared (CGNAT), unspecified, multicast or reserved ranges, IPv4 or IPv6 (an IPv4-mapped or
/// IPv4-compatible IPv6 address is judged by its IPv4 address).
public enum AddressPolicy {
    /// Why `address` (an IPv4 or IPv6 literal) may not be delivered to; nil when it may. A literal
    /// that cannot be read is refused too.
    public static func refusal(_ address: String) -> String? {
        if let v4 = parseIPv4(address) { return refusal(v4: v4) }
        if let v6 = parseIPv6(address) { return refusal(v6: v6) }
        return "is not an IP address"
    }

    static func refusal(v4 b: [UInt8]) -> String? {
        let ranges: [(prefix: [UInt8], bits: Int, name: String)] = [
            ([0, 0, 0, 0], 8, "this network (0.0.0.0/8)"),
            ([10, 0, 0, 0], 8, "private (10.0.0.0/8)"),
            ([100, 64, 0, 0], 10, "shared address space (100.64.0.0/10)"),
            ([127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"),
            ([169, 254, 0, 0], 16, "link-local (169.254.0.0/16)"),
            ([172, 16, 0, 0], 12, "private (172.16.0.0/12)"),
            ([192, 0, 0, 0], 24, "IETF protocol assignments (192.0.0.0/24)"),
            ([192, 168, 0, 0], 16, "private (192.168.0.0/16)"),
            ([198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"),
            ([224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"),
            ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
        ]
        for r in ranges where matches(b, r.prefix, bits: r.bits) { return "is \(r.name)" }
        return nil
    }

    static func refusal(v6 b: [UInt8]) -> String? {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated) carry an IPv4 address.
        if b[0..<10].allSatisfy({ $0 == 0 }), (b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0 && b[12...].contains { $0 != 0 }) {
            let inner = Array(b[12..<16])
            if inner == [0, 0, 0, 1] && b[10] == 0 { return "is loopback (::1)" }
            return refusal(v4: inner).map { "is IPv4-mapped and \($0.dropFirst(3))" }
        }
        if b.allSatisfy({ $0 == 0 }) { return "is unspecified (::)" }
        let ranges: [(prefix: [UInt8], bits: Int, name: String)] = [
            ([0xfc], 7, "unique local (fc00::/7)"),
            ([0xfe, 0x80], 10, "link-local (fe80::/10)"),
            ([0xfe, 0xc0], 10, "site-local (fec0::/10)"),
            ([0xff], 8, "multicast (ff00::/8)"),
            ([0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96, "NAT64 (64:ff9b::/96)"),
        ]
        for r in ranges where matches(b, r.prefix, bits: r.bits) { return "is \(r.name)" }
        return nil
    }

    static func matches(_ b: [UInt8], _ prefix: [UInt8], bits: Int) -> Bool {
        for i in 0..<bits / 8 where b[i] != prefix[i] { return false }
        let rest = bits % 8
        guard rest > 0 else { return true }
        let mask = UInt8(0xff << (8 - rest) & 0xff)
        return b[bits / 8] & mask == prefix[bits / 8] & mask
    }

    /// Dotted-quad IPv4, four decimal parts of 0–255 without leading zeros.
    public static func parseIPv4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), p == "0" || p.first != "0",
                let n = UInt8(p)
            else { return nil }
            out.append(n)
        }
        return out
    }

    /// An IPv6 literal (with `::` and an optional trailing dotted quad; no zone), as 16 bytes.
    public static func parseIPv6(_ raw: String) -> [UInt8]? {
        var s = Substring(raw)
        if s.hasPrefix("["), s.hasSuffix("]") { s = s.dropFirst().dropLast() }
        guard !s.contains("%"), s.contains(":") else { return nil }
        let halves = s.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt8]? {
            if part.isEmpty { return [] }
            var out: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, p) in pieces.enumerated() {
                if i == pieces.count - 1, p.contains(".") {
                    guard let v4 = parseIPv4(String(p)) else { return nil }
                    out += v4
                    continue
                }
                guard (1...4).contains(p.count), let n = UInt16(p, radix: 16) else { return nil }
                out += [UInt8(n >> 8), UInt8(n & 0xff)]
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}
