import Testing

@testable import CallboardDomain

/// References are read out on the phone: only the thirty unmistakable symbols, in CB-XXXX-XXXX.
@Suite struct RequestReferenceTests {
    /// 0, 1, 2, …: one symbol a draw, so the references walk the alphabet in order.
    struct Counting: RandomNumberGenerator {
        var count: UInt64 = 0
        mutating func next() -> UInt64 {
            defer { count += 1 }
            return count
        }
    }

    @Test func drawsEachSymbolFromTheAlphabetInTheFormat() {
        var counting = Counting()
        #expect(RequestReference.random(using: &counting) == "CB-2345-6789")
        #expect(RequestReference.random(using: &counting) == "CB-ABCD-EFGH")
        #expect(RequestReference.random(using: &counting) == "CB-JKMN-PQRS")
        #expect(RequestReference.random(using: &counting) == "CB-TVWX-YZ23")
    }

    @Test func systemDrawsStayInTheAlphabet() {
        var seen = Set<Character>()
        for _ in 0..<500 {
            let r = RequestReference.random()
            #expect(r.wholeMatch(of: /CB-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}/) != nil, "\(r)")
            seen.formUnion(r.dropFirst(3).filter { $0 != "-" })
        }
        #expect(seen == Set("23456789ABCDEFGHJKMNPQRSTVWXYZ"))
    }
}
