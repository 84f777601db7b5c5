import Foundation
import Testing

@testable import CallboardDomain

@Suite struct FieldRulesTests {
    @Test(arguments: ["ada@dvla.gov.uk", "a.b+c@x.co", "O'Neil@example.org"])
    func goodEmails(_ s: String) { #expect(FieldRules.emailProblem(s) == nil) }

    @Test(arguments: [
        "", "ada", "ada@", "@x.gov.uk", "ada@x", "a b@x.gov.uk", "ada@@x.gov.uk", "ada@x..gov.uk", ".a@x.gov.uk", "ada@-x.gov.uk", "ada@x.gov.u1",
    ])
    func badEmails(_ s: String) { #expect(FieldRules.emailProblem(s) != nil) }

    @Test(arguments: ["020 7946 0000", "+44 20 7946 0000", "(020) 7946-0000", "07700900123"])
    func goodPhones(_ s: String) { #expect(FieldRules.phoneProblem(s) == nil) }

    @Test func badPhones() {
        #expect(FieldRules.phoneProblem("call me") == "must be a phone number, like 020 7946 0000 or +44 20 7946 0000")
        #expect(FieldRules.phoneProblem("12345") == "must have between 10 and 15 digits")
        #expect(FieldRules.phoneProblem("1234567890123456") == "must have between 10 and 15 digits")
        #expect(FieldRules.phoneProblem("020+79460000") != nil)
    }

    @Test func urls() {
        #expect(FieldRules.httpsURLProblem("https://www.gov.uk/renew") == nil)
        #expect(FieldRules.httpsURLProblem("http://www.gov.uk/renew") == "must start with https://")
        #expect(FieldRules.httpsURLProblem("www.gov.uk") == "must be a full URL starting with https://")
        #expect(FieldRules.httpsURLProblem("https://localhost/x") == "must be a full URL starting with https://")
        #expect(FieldRules.httpsURLProblem("https://a.gov.uk/" + String(repeating: "x", count: 2048)) == "must be at most 2048 characters")
        #expect(FieldRules.httpsURLProblem("javascript:alert(1)") == "must be a full URL starting with https://")
    }
}

@Suite struct ItemValidationTests {
    private func validate(_ name: ItemName, _ input: JSONValue) -> (ChecklistItem?, [FieldError]) {
        var errors = ErrorCollector()
        let item = ItemValidation.validate(name, input, at: "/items/\(name.rawValue)", errors: &errors)
        return (item, errors.errors)
    }

    @Test(arguments: ItemName.allCases)
    func everyFixtureIsValid(_ name: ItemName) {
        let (item, errors) = validate(name, .object(["status": .string("provided"), "value": Fixtures.values[name]!]))
        #expect(errors == [])
        #expect(item?.status == .provided)
    }

    @Test func reportsEveryErrorAtOnce() {
        let (item, errors) = validate(
            .contact,
            .object([
                "status": .string("provided"),
                "value": .object([
                    "name": .string("  "), "email": .string("not-an-email"), "phone": .number(123), "nickname": .string("x"),
                ]),
            ]))
        #expect(item == nil)
        #expect(
            errors == [
                FieldError(pointer: "/items/contact/value/name", message: "is required"),
                FieldError(pointer: "/items/contact/value/email", message: "must be an email address, like name@example.gov.uk"),
                FieldError(pointer: "/items/contact/value/phone", message: "must be a string, got a number"),
                FieldError(pointer: "/items/contact/value/nickname", message: "is not a recognised field"),
            ])
    }

    @Test func serviceURLsMustBeHTTPS() {
        let (_, errors) = validate(
            .service,
            .object([
                "status": .string("provided"),
                "value": .object([
                    "name": .string("X"), "description": .string("Y"), "start_page_url": .string("http://x.gov.uk"),
                    "govuk_start_page_url": .string("ftp://x.gov.uk"),
                ]),
            ]))
        #expect(errors.map(\.pointer) == ["/items/service/value/start_page_url", "/items/service/value/govuk_start_page_url"])
        #expect(errors.allSatisfy { $0.message == "must start with https://" })
    }

    @Test func notAvailableNeedsReasonAndIsRefusedForContacts() {
        let (ok, e1) = validate(.userSatisfaction, .object(["status": .string("not_available"), "reason": .string("We do not capture it")]))
        #expect(e1 == [])
        #expect(ok == ChecklistItem(status: .notAvailable, reason: "We do not capture it"))
        let (_, e2) = validate(.userSatisfaction, .object(["status": .string("not_available")]))
        #expect(e2 == [FieldError(pointer: "/items/user_satisfaction/reason", message: "is required")])
        let (_, e3) = validate(.contact, .object(["status": .string("not_available"), "reason": .string("x")]))
        #expect(e3.map(\.pointer) == ["/items/contact/status", "/items/contact/reason"])
    }

    @Test func googleAnalyticsNeedsAccessAndAGoal() {
        let (_, errors) = validate(
            .completionRate,
            .object([
                "status": .string("provided"),
                "value": .object([
                    "analytics_provider": .string("google_analytics"), "goals": .array([.object(["start": .string("/a")])]),
                ]),
            ]))
        #expect(
            errors == [
                FieldError(pointer: "/items/completion_rate/value/read_access_granted", message: "is required"),
                FieldError(pointer: "/items/completion_rate/value/goals/0/completion", message: "is required"),
            ])
        let (_, e2) = validate(
            .completionRate,
            .object([
                "status": .string("provided"),
                "value": .object([
                    "analytics_provider": .string("piwik")
                ]),
            ]))
        #expect(e2 == [])
        let (_, e3) = validate(
            .completionRate,
            .object([
                "status": .string("provided"),
                "value": .object([
                    "analytics_provider": .string("omniture")
                ]),
            ]))
        #expect(
            e3 == [
                FieldError(
                    pointer: "/items/completion_rate/value/analytics_provider", message: "must be one of: google_analytics, webtrends, piwik, other")
            ])
    }

    @Test func takeUpNeedsAnUploader() {
        let (_, errors) = validate(
            .digitalTakeUp,
            .object([
                "status": .string("provided"),
                "value": .object([
                    "spreadsheet_reference": .string("file.xlsx"), "uploaders": .array([]),
                ]),
            ]))
        #expect(errors == [FieldError(pointer: "/items/digital_take_up/value/uploaders", message: "must list at least one uploader")])
    }

    @Test func costNeedsOneOfTwoForms() {
        let (_, e1) = validate(.costPerTransaction, .object(["status": .string("provided"), "value": .object([:])]))
        #expect(e1.map(\.pointer) == ["/items/cost_per_transaction/value"])
        let (_, e2) = validate(
            .costPerTransaction,
            .object([
                "status": .string("provided"),
                "value": .object([
                    "transactions_explorer_url": .string("https://a.gov.uk"), "not_on_explorer_note": .string("n"),
                ]),
            ]))
        #expect(
            e2 == [
                FieldError(pointer: "/items/cost_per_transaction/value", message: "give transactions_explorer_url or not_on_explorer_note, not both")
            ])
    }

    @Test func statusIsRequiredAndChecked() {
        let (_, e1) = validate(.service, .object([:]))
        #expect(e1 == [FieldError(pointer: "/items/service/status", message: "is required")])
        let (_, e2) = validate(.service, .string("x"))
        #expect(e2 == [FieldError(pointer: "/items/service", message: "must be an object, got a string")])
        let (_, e3) = validate(.service, .object(["status": .string("provided")]))
        #expect(e3 == [FieldError(pointer: "/items/service/value", message: "is required when status is provided")])
    }

    @Test func pointerEscapesTokens() {
        #expect(pointer("/a", "b/c~d") == "/a/b~1c~0d")
    }
}

/// The address and phone rules go by bytes; the rules as first written, with Foundation's
/// character sets, are kept here to check that both answer alike, message for message.
@Suite struct FieldRulesByBytesTests {
    static func emailProblemAsWritten(_ s: String) -> String? {
        if s.count > 254 { return "must be at most 254 characters" }
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64 else { return "must be an email address, like name@example.gov.uk" }
        let local = parts[0]
        let localAllowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-")
        guard local.unicodeScalars.allSatisfy(localAllowed.contains), !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else {
            return "must be an email address, like name@example.gov.uk"
        }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        let labelAllowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
        guard labels.count >= 2,
            labels.allSatisfy({
                !$0.isEmpty && $0.count <= 63 && !$0.hasPrefix("-") && !$0.hasSuffix("-") && $0.unicodeScalars.allSatisfy(labelAllowed.contains)
            }),
            let tld = labels.last, tld.count >= 2, tld.allSatisfy(\.isLetter)
        else { return "must be an email address, like name@example.gov.uk" }
        return nil
    }

    static func phoneProblemAsWritten(_ s: String) -> String? {
        let allowed = CharacterSet(charactersIn: "0123456789 +()-")
        guard s.unicodeScalars.allSatisfy(allowed.contains) else { return "must be a phone number, like 020 7946 0000 or +44 20 7946 0000" }
        if s.dropFirst().contains("+") { return "must be a phone number, like 020 7946 0000 or +44 20 7946 0000" }
        guard (10...15).contains(s.filter(\.isNumber).count) else { return "must have between 10 and 15 digits" }
        return nil
    }

    /// Strings from pieces that sit at the rules' edges: separators, non-ASCII letters and digits,
    /// a combining accent (which joins the character before it), long runs.
    static func samples(_ pieces: [String], count: Int) -> [String] {
        var rng = SystemRandomNumberGenerator()
        return (0..<count).map { _ in (0..<Int.random(in: 0...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined() }
    }

    @Test func emailsAnswerAsFirstWritten() {
        let pieces = [
            "a", "Z", "0", "9", ".", "..", "@", "-", "_", "+", "'", "~", " ", "é", "\u{301}", "٣", "x.gov.uk", "gov", "uk", "ada",
            String(repeating: "a", count: 63), String(repeating: "b", count: 64), "ǅ", "\u{0}",
        ]
        for s in Self.samples(pieces, count: 20_000) + [
            "ada@dvla.gov.uk", "a@b.c\u{301}o", "a@\u{301}b.co", "a@b.é", String(repeating: "é", count: 255),
        ] {
            #expect(FieldRules.emailProblem(s) == Self.emailProblemAsWritten(s), "\(s.unicodeScalars.map(\.value))")
        }
    }

    @Test func phonesAnswerAsFirstWritten() {
        let pieces = ["0", "7", "9", " ", "+", "(", ")", "-", "٣", "\u{301}", "a", "12345", "\u{FF11}"]
        for s in Self.samples(pieces, count: 20_000) + ["+\u{301}44 20 7946 0000", "020 7946 0000"] {
            #expect(FieldRules.phoneProblem(s) == Self.phoneProblemAsWritten(s), "\(s.unicodeScalars.map(\.value))")
        }
    }

    @Test func pointersEscapeAsRFC6901Says() {
        #expect(pointer("/items", "contact") == "/items/contact")
        #expect(pointer("", "a/b~c") == "/a~1b~0c")
        #expect(pointer("/x", "~/é/~") == "/x/~0~1é~1~0")
        #expect(pointer("/x", "") == "/x/")
    }
}
