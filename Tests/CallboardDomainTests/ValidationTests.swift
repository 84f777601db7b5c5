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
