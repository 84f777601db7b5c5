/// A request's reference, `CB-XXXX-XXXX`, for people to read out on the phone: eight of thirty
/// letters and digits none of which can be mistaken for another (no 0/O, 1/I/L, and U dropped to
/// keep it apart from V). Not a secret, so the system generator is plenty; the database's unique
/// index on it decides whether one is free. The same alphabet as the migration's `callboard_reference()`.
public enum RequestReference {
    public static let alphabet: [UInt8] = Array("23456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    public static func random(using generator: inout some RandomNumberGenerator) -> String {
        var bytes: [UInt8] = Array("CB-".utf8)
        for i in 0..<8 {
            if i == 4 { bytes.append(UInt8(ascii: "-")) }
            // A remainder of 64 bits: the bias, 16 in 2^64, is nothing.
            bytes.append(alphabet[Int(generator.next() % UInt64(alphabet.count))])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
