import Testing

@testable import CallboardDomain

@Suite struct CSVUploadTests {
    let november = Period(start: CivilDate(2026, 11, 1), end: CivilDate(2026, 11, 30))

    func check(_ text: String, fields: [String] = ["visits", "completions"]) -> Result<Int, CSVInvalid> {
        CSVUpload.validate(Array(text.utf8), fields: fields.map { DataField($0) }, period: november).map(\.count)
    }

    @Test func aValidFileCountsItsRows() {
        let csv =
            "_timestamp,visits,completions,channel\r\n2026-11-02,1200,800,\"web, mobile\"\r\n2026-11-09T00:00:00Z,1300.5,-1,\"say \"\"hi\"\"\"\r\n\r\n"
        #expect(check(csv) == .success(2))
        // A byte-order mark and a final line without a break are fine.
        #expect(check("\u{FEFF}_timestamp,visits,completions\n2026-11-30,1,2") == .success(1))
    }

    @Test func everyBadRowIsReportedWithItsLine() {
        let csv = """
            _timestamp,visits,completions
            2026-11-02,1200,800
            2026-10-31,1,2
            yesterday,1,2
            2026-11-03,,abc
            2026-11-04,1

            """
        guard case .failure(let invalid) = check(csv) else {
            Issue.record("accepted")
            return
        }
        #expect(
            invalid.problems == [
                CSVProblem(line: 3, message: "Line 3: _timestamp 2026-10-31 is outside the period 2026-11-01 to 2026-11-30"),
                CSVProblem(
                    line: 4, message: "Line 4: _timestamp \"yesterday\" must be a date like 2026-11-01 or an instant like 2026-11-01T00:00:00Z"),
                CSVProblem(line: 5, message: "Line 5: visits is empty"),
                CSVProblem(line: 5, message: "Line 5: completions \"abc\" must be a number"),
                CSVProblem(line: 6, message: "Line 6 has 2 values; the header row has 3"),
            ])
    }

    @Test func theHeaderMustNameTimestampAndEveryField() {
        #expect(
            check("date,visits\n2026-11-02,1\n")
                == .failure(
                    CSVInvalid(problems: [
                        CSVProblem(
                            line: 1, message: "The header row must name the columns _timestamp, visits, completions; missing: _timestamp, completions"
                        )
                    ])))
        #expect(
            check("_timestamp,visits,visits,completions\n")
                == .failure(
                    CSVInvalid(problems: [
                        CSVProblem(line: 1, message: "The header row names a column twice: visits")
                    ])))
        #expect(
            check("_timestamp,visits,completions\n")
                == .failure(
                    CSVInvalid(problems: [
                        CSVProblem(line: 2, message: "The file has a header row but no data")
                    ])))
        #expect(check("") == .failure(CSVInvalid(problems: [CSVProblem(line: 0, message: "The file is empty")])))
    }

    @Test func malformedFilesAreRefusedWithTheirLine() {
        #expect(
            CSVUpload.validate([0xFF, 0xFE, 0x41], fields: [], period: november)
                == .failure(CSVInvalid(problems: [CSVProblem(line: 0, message: "The file must be a CSV file saved as UTF-8")])))
        #expect(
            check("_timestamp,visits,completions\n2026-11-02,\"1,2\n")
                == .failure(
                    CSVInvalid(problems: [
                        CSVProblem(line: 2, message: "Line 2 opens a quote that is never closed")
                    ])))
        #expect(
            check("_timestamp,visits,completions\n2026-11-02,1\"2\",3\n")
                == .failure(
                    CSVInvalid(problems: [
                        CSVProblem(line: 2, message: "Line 2 has a quote inside an unquoted value")
                    ])))
        // A quoted value over two lines: the next record's line number counts both.
        #expect(
            check("_timestamp,visits,completions,note\n2026-11-02,1,2,\"two\nlines\"\n2026-11-03,x,2,n\n")
                == .failure(
                    CSVInvalid(problems: [
                        CSVProblem(line: 4, message: "Line 4: visits \"x\" must be a number")
                    ])))
    }

    /// Numbers must be finite: an overflowing exponent, infinity and NaN are refused with their line.
    @Test func numbersMustBeFinite() {
        let csv =
            "_timestamp,visits,completions\n2026-11-02,1e999,-1E999\n2026-11-03,inf,nan\n2026-11-04,Infinity,-infinity\n2026-11-05,1e308,-1e-999\n"
        #expect(
            check(csv)
                == .failure(
                    CSVInvalid(problems: [
                        CSVProblem(line: 2, message: "Line 2: visits \"1e999\" is too large: it must be a finite number"),
                        CSVProblem(line: 2, message: "Line 2: completions \"-1E999\" is too large: it must be a finite number"),
                        CSVProblem(line: 3, message: "Line 3: visits \"inf\" must be a number"),
                        CSVProblem(line: 3, message: "Line 3: completions \"nan\" must be a number"),
                        CSVProblem(line: 4, message: "Line 4: visits \"Infinity\" must be a number"),
                        CSVProblem(line: 4, message: "Line 4: completions \"-infinity\" must be a number"),
                    ])))
        #expect(check("_timestamp,visits,completions\n2026-11-05,1e308,-1e-999\n") == .success(1))
    }

    @Test func nulCharactersAndRunawayFilesAreCutShort() {
        #expect(
            check("_timestamp,visits,completions\n2026-11-02,1,2\u{0}\n")
                == .failure(
                    CSVInvalid(problems: [
                        CSVProblem(line: 2, message: "Line 2 contains a NUL character: save the file as CSV (UTF-8)")
                    ])))
        // 100,000 columns in the header: checked in one pass.
        let wide = "_timestamp,visits,completions," + (0..<100_000).map { "c\($0)" }.joined(separator: ",") + "\n"
        #expect(check(wide) == .failure(CSVInvalid(problems: [CSVProblem(line: 2, message: "The file has a header row but no data")])))
        // Thousands of bad rows: the first 200 problems are reported.
        let bad = "_timestamp,visits,completions\n" + String(repeating: "x,1,2\n", count: 5000)
        guard case .failure(let invalid) = check(bad) else {
            Issue.record("accepted")
            return
        }
        #expect(invalid.problems.count == CSVUpload.maxProblems)
    }
}
