import Foundation
import Testing

@testable import CallboardDomain

@Suite struct JSONCodecTests {
    @Test func roundTripsEveryKind() throws {
        let text = #"{"a":[1,-2.5,3e2,true,false,null],"b":{"c":"q\"uote\\ \n tab\t é 😀 \u0001"},"d":""}"#
        let v = try JSONValue.parse(text)
        #expect(v["a"] == .array([.number(1), .number(-2.5), .number(300), .bool(true), .bool(false), .null]))
        #expect(v["b"]?["c"] == .string("q\"uote\\ \n tab\t é 😀 \u{1}"))
        #expect(try JSONValue.parse(v.serialized()) == v)
        #expect(v.serializedString == #"{"a":[1,-2.5,300,true,false,null],"b":{"c":"q\"uote\\ \n tab\t é 😀 \u0001"},"d":""}"#)
    }

    /// Ids are written from their bytes: the same text as Foundation's, in lower case.
    @Test func idsAreLowerCaseHexWithDashes() throws {
        let fixed = try #require(UUID(uuidString: "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9"))
        #expect(fixed.lowercasedString == "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9")
        for _ in 0..<100 {
            let id = UUID()
            #expect(id.lowercasedString == id.uuidString.lowercased())
        }
    }

    /// The stream writer gives the bytes `serialized()` gives for the same value, keys written in order.
    @Test func streamWriterWritesWhatSerializedWrites() {
        var w = JSONStreamWriter(capacity: 16)
        w.beginObject()
        w.key("a")
        w.beginArray()
        w.beginObject()
        w.key("b")
        w.string(nil)
        w.key("c\"q")
        w.string("line\nbreak \u{1} é \\")
        w.endObject()
        w.beginArray()
        w.endArray()
        w.int(-42)
        w.bool(false)
        w.endArray()
        w.key("d")
        w.beginObject()
        w.key("x")
        w.bool(true)
        w.key("y")
        w.int(15)
        w.endObject()
        w.key("e")
        w.int(1_000_000)
        w.endObject()
        let expected: JSONValue = .object([
            "a": .array([.object(["b": .null, "c\"q": .string("line\nbreak \u{1} é \\")]), .array([]), .number(-42), .bool(false)]),
            "d": .object(["x": .bool(true), "y": .number(15)]),
            "e": .number(1_000_000),
        ])
        #expect(String(decoding: w.bytes, as: UTF8.self) == expected.serializedString)
    }

    @Test func surrogatePairsAndEscapes() throws {
        #expect(try JSONValue.parse(#""\ud83d\ude00 \/ \u00e9""#) == .string("😀 / é"))
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(#""\ud83d""#) }
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"abc", "{\"a\":1}x", "[1 2]", "\"\u{1}\"", "NaN", "1e999"])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(text) }
    }

    @Test func refusesDeepNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONValue.ParseError(offset: 65, reason: "nested too deeply")) { try JSONValue.parse(deep) }
        #expect(throws: Never.self) { try JSONValue.parse(String(repeating: "[", count: 60) + String(repeating: "]", count: 60)) }
    }

    @Test func timestampsAreRFC3339UTCWithMilliseconds() {
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 1_795_000_000.123_9)) == "2026-11-18T11:06:40.123Z")
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
    }
}
