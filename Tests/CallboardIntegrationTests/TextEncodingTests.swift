import CallboardDomain
import Crypto
import Foundation
import Testing

@testable import CallboardServices
@testable import CallboardStorage

/// The byte-level encoders that replaced Foundation's formatting and replacing on the email path.
@Suite struct TextEncodingTests {
    @Test func hexIsTwoLowercaseDigitsAByte() {
        #expect([UInt8]().hexString == "")
        #expect([0x00, 0x0F, 0xA5, 0xFF].hexString == "000fa5ff")
        #expect(SHA256.hash(data: Data("abc".utf8)).hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func base64URLMatchesRFC4648WithoutPadding() {
        #expect([UInt8]().base64URLString == "")
        #expect(Array("M".utf8).base64URLString == "TQ")
        #expect(Array("Ma".utf8).base64URLString == "TWE")
        #expect(Array("Man".utf8).base64URLString == "TWFu")
        #expect([0xFB, 0xFF].base64URLString == "-_8")
        // Every length against Foundation's encoder with the URL alphabet swapped in.
        var rng = SystemRandomNumberGenerator()
        for n in 0...40 {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let reference = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(bytes.base64URLString == reference, "\(bytes)")
        }
    }

    @Test func tokensAre256BitsOfBase64URL() {
        let a = NewLink.random()
        let b = NewLink.random()
        #expect(a.count == 43 && b.count == 43)
        #expect(a != b)
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        #expect(a.allSatisfy(alphabet.contains))
    }

    @Test func htmlEscapingCoversTheSameFiveCharacters() {
        #expect(HTMLEscaping.escape("a<b>&\"'c") == "a&lt;b&gt;&amp;&quot;&#39;c")
        #expect(HTMLEscaping.escape("café <é>") == "café &lt;é&gt;")
        #expect(HTMLEscaping.escape("nothing to do") == "nothing to do")
        #expect(HTMLEscaping.escape("") == "")
    }

    @Test func aPlaceholderIsThePrefixAndTheLinkIDsHexDigits() throws {
        let id = try #require(UUID(uuidString: "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9"))
        #expect(LinkPlaceholder.text(for: id) == "cblink_0a1b2c3d4e5f60718293a4b5c6d7e8f9")
        #expect(LinkPlaceholder.ids(in: ["see \(LinkPlaceholder.text(for: id)) now"]) == [id])
    }

    @Test func subjectsAreTrimmedToOneLineAsFoundationWould() {
        for text in ["", " \n\t", "Plain", "  Tax <b>\n", "\nTwo\nlines\n\n", "\u{00A0}Café\u{2003}", "a \u{0085}"] {
            let foundation = text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " ")
            #expect(EmailTemplates.oneLine(text) == foundation, "\(Array(text.unicodeScalars))")
        }
        #expect(EmailTemplates.oneLine("\nTwo\nlines\n") == "Two lines")
    }

    @Test func placeholdersInTypedTextAreBrokenUp() {
        #expect(LinkPlaceholder.neutralise("x cblink_abc ccblink_ cbliNk_ cblink") == "x cblink-abc ccblink- cbliNk_ cblink")
        #expect(LinkPlaceholder.holdsPrefix("cblinkcblink_"))
        #expect(LinkPlaceholder.holdsPrefix("cblink_"))
        #expect(!LinkPlaceholder.holdsPrefix("cblin"))
        #expect(!LinkPlaceholder.holdsPrefix("cblink-"))
        #expect(LinkPlaceholder.neutralise("plain") == "plain")
    }

    /// The byte search against Foundation's over strings built from the prefix's own pieces (so
    /// near misses, overlaps and matches at either end are common) and multi-byte text.
    @Test func holdsPrefixAgreesWithFoundationsSearch() {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["c", "cb", "cblink", "cblink_", "blink_", "_", "é", "€", " ", "x"]
        for _ in 0..<5_000 {
            let text = (0..<Int.random(in: 0...8, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            #expect(LinkPlaceholder.holdsPrefix(text) == text.contains("cblink_"), "\(text)")
        }
    }
}
