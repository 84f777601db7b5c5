import Foundation
import Testing

@testable import CallboardDomain

/// Control characters in typed text: single-line fields refuse line breaks, tabs and other control
/// characters; multi-line fields keep CR and LF only.
@Suite struct ControlCharacterTests {
    static let oneLine = "must be on one line, without line breaks"
    static let control = "must not contain tabs or other control characters"

    @Test func singleLineValues() {
        #expect(FieldRules.controlCharacterProblem("Renew your driving licence – Ōtautahi", singleLine: true) == nil)
        for s in ["a\nb", "a\rb", "a\r\nb", "a\u{85}b", "a\u{2028}b", "a\u{2029}b"] {
            #expect(FieldRules.controlCharacterProblem(s, singleLine: true) == Self.oneLine, "\(s.unicodeScalars.map(\.value))")
        }
        for s in ["a\tb", "a\u{1}b", "a\u{1B}[31mb", "a\u{7F}b", "a\u{9F}b", "a\nb\tc"] {
            #expect(FieldRules.controlCharacterProblem(s, singleLine: true) == Self.control, "\(s.unicodeScalars.map(\.value))")
        }
    }

    @Test func multiLineValues() {
        #expect(FieldRules.controlCharacterProblem("First line\r\nsecond\n\nthird\rfourth\u{2028}", singleLine: false) == nil)
        for s in ["a\tb", "a\u{0}b", "a\u{7}b", "a\u{85}b", "a\u{7F}b", "a\nb\u{1}"] {
            #expect(FieldRules.controlCharacterProblem(s, singleLine: false) == Self.control, "\(s.unicodeScalars.map(\.value))")
        }
    }

    private func validate(_ name: ItemName, _ value: [String: JSONValue]) -> [FieldError] {
        var errors = ErrorCollector()
        _ = ItemValidation.validate(
            name, .object(["status": .string("provided"), "value": .object(value)]), at: "/items/\(name.rawValue)", errors: &errors)
        return errors.errors
    }

    /// Names, references and page paths are single lines; descriptions and notes may span lines.
    @Test func itemFields() {
        #expect(
            validate(
                .service,
                [
                    "name": .string("Renew\nyour licence"), "description": .string("Renew online.\r\nIt takes\t5 minutes"),
                    "start_page_url": .string("https://www.gov.uk/renew\t"),
                ]) == [
                    FieldError(pointer: "/items/service/value/name", message: Self.oneLine),
                    FieldError(pointer: "/items/service/value/description", message: Self.control),
                ])
        #expect(
            validate(
                .service,
                [
                    "name": .string(" Renew\t"), "description": .string("Renew online.\r\n\r\nIt takes 5 minutes"),
                    "start_page_url": .string("https://www.gov.uk/renew"),
                ]) == [])
        #expect(
            validate(
                .contact, ["name": .string("Ada\u{1B}[2J"), "email": .string("ada@dvla.gov.uk\r\nBcc: x@y.com"), "phone": .string("020 7946 0000")])
                == [
                    FieldError(pointer: "/items/contact/value/name", message: Self.control),
                    FieldError(pointer: "/items/contact/value/email", message: Self.oneLine),
                ])
        #expect(
            validate(
                .digitalTakeUp,
                [
                    "spreadsheet_reference": .string("volumes\t2026.xlsx"),
                    "uploaders": .array([.object(["name": .string("Sam\nPatel"), "email": .string("sam@dvla.gov.uk")])]),
                ]) == [
                    FieldError(pointer: "/items/digital_take_up/value/spreadsheet_reference", message: Self.control),
                    FieldError(pointer: "/items/digital_take_up/value/uploaders/0/name", message: Self.oneLine),
                ])
        #expect(
            validate(
                .completionRate,
                [
                    "analytics_provider": .string("other"), "note": .string("We count\nby hand"),
                    "goals": .array([.object(["start": .string("/start\r"), "completion": .string("/done\u{0B}x")])]),
                ]) == [FieldError(pointer: "/items/completion_rate/value/goals/0/completion", message: Self.control)])
    }
}

@Suite struct SpreadsheetSafeTests {
    @Test(arguments: [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"), ("+44 20 7946 0000", "'+44 20 7946 0000"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("=1", "'=1"), ("-", "'-"), ("+", "'+"), ("-.", "'-."), ("-1e", "'-1e"), ("-1e+", "'-1e+"),
        ("=HYPERLINK(\"https://x.example\")", "'=HYPERLINK(\"https://x.example\")"), ("-0x1F", "'-0x1F"), ("- 1", "'- 1"), ("-1,000", "'-1,000"),
    ])
    func formulasGetAnApostrophe(_ value: String, _ safe: String) {
        #expect(SpreadsheetSafe.text(value) == safe)
    }

    @Test(arguments: [
        "", "Renew your driving licence", "1200", "-12", "+3.5", "-1e6", "-1.5E-3", "+.5", "-5.", "0", "a=b", " =1", "'=1", "£-1", "\n=1",
    ])
    func otherTextIsUnchanged(_ value: String) {
        #expect(SpreadsheetSafe.text(value) == value)
    }
}

/// `trimmedOfWhitespace` removes what Foundation's `.whitespacesAndNewlines` trimming removes.
@Suite struct TrimmingTests {
    @Test func trimsWhatFoundationTrims() {
        let spaces: [Unicode.Scalar] = (0...0x3000).compactMap(Unicode.Scalar.init).filter {
            $0.properties.isWhitespace || CharacterSet.whitespacesAndNewlines.contains($0)
        }
        #expect(spaces.count == 26)  // Unicode White_Space (25) and U+200B, which Foundation adds
        var samples = ["", "a", "ab", " a", "a ", "\ta\n", "é", " é ", "a b", "\u{1}x\u{1}", "x\u{7F}", "\u{200B}x\u{200B}", "Café ☕"]
        for s in spaces { samples += ["\(s)", "\(s)a\(s)", "a\(s)b", "\(s)é", "é\(s)"] }
        for text in samples {
            #expect(text.trimmedOfWhitespace == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(Array(text.unicodeScalars))")
        }
    }
}
