import CallboardDomain
import Foundation
import Testing

@Suite struct DataRecordsTests {
    let fields = [DataField("count", .number), DataField("channel", .string), DataField("assisted", .boolean)]

    func problems(_ body: JSONValue, fields: [DataField]? = nil) -> [RecordProblem] {
        if case .failure(let p) = DataRecords.validate(body, fields: fields ?? self.fields) { return p.problems }
        return []
    }

    @Test func aRecordOrAnArrayOfThemIsTaken() throws {
        let one = try DataRecords.validate(
            .object(["_timestamp": .string("2026-11-23T00:00:00+00:00"), "Count": .number(12), "channel": .string("online")]),
            fields: fields
        ).get()
        #expect(
            one == [
                DataRecord(
                    id: nil, timestamp: Date(timeIntervalSince1970: 1_795_392_000), values: ["count": .number(12), "channel": .string("online")])
            ])
        let many = try DataRecords.validate(
            .array([
                .object(["_id": .string("a-1"), "_timestamp": .string("2026-11-23T01:00:00+01:00"), "assisted": .bool(true)]),
                .object(["count": .number(3)]),
            ]), fields: fields
        ).get()
        #expect(many.map(\.id) == ["a-1", nil])
        #expect(many[0].timestamp == Date(timeIntervalSince1970: 1_795_392_000))
        #expect(many[1].timestamp == nil)  // stored, settles nothing
        #expect(try DataRecords.validate(.array([]), fields: fields).get() == [])
    }

    @Test func everyProblemOfABatchIsReportedWithItsRecordAndField() {
        let p = problems(
            .array([
                .object(["count": .string("12"), "colour": .string("red")]),
                .number(4),
                .object(["_timestamp": .string("2026-11-23T00:00:00"), "_id": .string("has space"), "_other": .number(1)]),
                .object(["channel": .null, "assisted": .array([]), "count": .object([:])]),
                .object(["bad-key": .number(1), "Count": .number(1), "count": .number(2)]),
            ]))
        #expect(
            p.map(\.pointer) == [
                "/0/colour", "/0/count", "/1", "/2/_id", "/2/_other", "/2/_timestamp", "/3/assisted", "/3/channel", "/3/count", "/4/bad-key",
                "/4/count",
            ])
        #expect(p[0].message == "Record 0: colour is not a field of this data set; its fields are assisted, channel, count")
        #expect(p[1].message == "Record 0: count must be a number, not a string")
        #expect(p[2].message == "Record 1 must be an object, not a number")
        #expect(p[5].message == "Record 2: _timestamp must be an ISO 8601 time with a UTC offset, like 2026-11-23T00:00:00+00:00")
        #expect(p[7].message == "Record 3: channel must be a string, a number or a boolean, not null")
        #expect(p[10].message == "Record 4: the keys \"Count\" and \"count\" are the same field")
        #expect(problems(.string("x")).map(\.message) == ["The body must be a record (an object) or an array of records, not a string"])
    }

    /// What one hostile request can make the server do is bounded: keys, records, bytes, years.
    @Test func hostileRecordsAreRefusedCheaply() throws {
        let many = JSONValue.object(Dictionary(uniqueKeysWithValues: (0..<101).map { ("k\($0)", JSONValue.number(1)) }))
        #expect(problems(many, fields: []).map(\.message) == ["Record 0 has 101 keys; a record has at most 100"])
        let marks = "a" + String(repeating: "\u{0301}", count: 150)  // one character, 301 bytes
        #expect(problems(.object(["_id": .string(marks)]), fields: []).map(\.pointer) == ["/0/_id"])
        #expect(problems(.object(["note": .string(String(repeating: "\u{0301}", count: 20_001))]), fields: []).map(\.pointer) == ["/0/note"])
        #expect(DataRecords.timestamp("0000-06-01T00:00:00Z") == nil && DataRecords.timestamp("0001-01-01T00:00:00Z") == nil)
        #expect(DataRecords.timestamp("2201-01-01T00:00:00Z") == nil && DataRecords.timestamp("1900-01-01T00:00:00Z") != nil)
        let body = "[" + Array(repeating: "{}", count: DataRecords.maxRecords + 5).joined(separator: ",") + "]"
        guard case .failure(let tooMany) = try DataRecords.parse(Array(body.utf8), fields: []) else {
            Issue.record("accepted")
            return
        }
        #expect(tooMany.problems.map(\.message) == ["Record 100000: a write takes at most 100000 records"])
    }

    /// The bytes-to-store path gives what `validate` gives, one record at a time.
    @Test func parsingFromBytesMatchesValidating() throws {
        let text = #"[{"_id": "a", "_timestamp": "2026-11-23T00:00:00Z", "Count": 2, "channel": "x"}, {"assisted": true}]"#
        let (records, single) = try DataRecords.parse(Array(text.utf8), fields: fields).get()
        #expect(!single)
        #expect(records == (try DataRecords.validate(try JSONValue.parse(text), fields: fields).get()).map(\.stored))
        #expect(records[0].data == #"{"channel":"x","count":2}"#)
        #expect(try DataRecords.parse(Array(#" {"count": 1} "#.utf8), fields: fields).get().single)
        guard case .failure(let bad) = try DataRecords.parse(Array(#"[{"count": "2"}, 3]"#.utf8), fields: fields),
            case .failure(let top) = try DataRecords.parse(Array(#""text""#.utf8), fields: fields)
        else {
            Issue.record("accepted")
            return
        }
        #expect(bad.problems.map(\.pointer) == ["/0/count", "/1"])
        #expect(top.problems.map(\.message) == ["The body must be a record (an object) or an array of records, not a string"])
        #expect(throws: JSONValue.ParseError.self) { try DataRecords.parse(Array("[{}, ".utf8), fields: fields) }
        #expect(throws: JSONValue.ParseError.self) { try DataRecords.parse(Array("[[[[[[[[[[1]]]]]]]]]]".utf8), fields: fields) }
    }

    @Test func withoutDeclaredFieldsAnyValidKeyIsTakenButNotNULs() throws {
        let r = try DataRecords.validate(.object(["anything_1": .string("x"), "n": .bool(false)]), fields: []).get()
        #expect(r[0].values == ["anything_1": .string("x"), "n": .bool(false)])
        #expect(problems(.object(["note": .string("a\u{0}b")]), fields: []).map(\.pointer) == ["/0/note"])
        #expect(problems(.object(["1st": .number(1)]), fields: []).map(\.pointer) == ["/0/1st"])
        #expect(problems(.object(["_id": .string("")]), fields: []).map(\.pointer) == ["/0/_id"])
    }

    @Test func timestampsMustNameTheirOffset() {
        #expect(DataRecords.timestamp("2026-11-23T00:00:00Z") == Date(timeIntervalSince1970: 1_795_392_000))
        #expect(DataRecords.timestamp("2026-11-23T00:00:00+0000") == Date(timeIntervalSince1970: 1_795_392_000))
        #expect(DataRecords.timestamp("2026-11-23T05:30:00.000+05:30") == Date(timeIntervalSince1970: 1_795_392_000))
        #expect(DataRecords.timestamp("2026-11-23T00:00:00") == nil)
        #expect(DataRecords.timestamp("2026-11-23") == nil)
        #expect(DataRecords.timestamp("2026-13-23T00:00:00Z") == nil)
        #expect(DataRecords.timestamp("2026-02-29T00:00:00Z") == nil)
        #expect(DataRecords.timestamp("2026x11x23T00:00:00Z") == nil)
        // The direct reader agrees with Foundation's ISO 8601 parser.
        var n = 0
        for day in stride(from: -800, to: 30_000, by: 97) {
            for (offset, text) in [(0, "Z"), (3600, "+01:00"), (-19_800, "-0530"), (45_900, "+12:45")] {
                let date = CivilDate(daysSinceEpoch: day)
                let s = "\(date)T\(String(format: "%02d:%02d:%02d", n % 24, (n * 7) % 60, (n * 13) % 60))\(n % 3 == 0 ? ".25" : "")\(text)"
                let fast = DataRecords.timestamp(s)
                let foundation = Timestamp.parse(s)
                #expect(fast != nil && abs(fast!.timeIntervalSince(foundation!)) < 0.3, "\(s) \(offset)")
                n += 1
            }
        }
    }

    @Test func theLastRecordWithAnIDWinsAndPeriodsAreLondonOnes() {
        let t = { (s: String) in DataRecords.timestamp(s)! }
        let records = [
            DataRecord(id: "a", timestamp: t("2026-10-31T23:30:00Z"), values: ["count": .number(1)]),
            DataRecord(id: nil, timestamp: nil, values: [:]),
            DataRecord(id: "a", timestamp: t("2026-11-02T00:00:00Z"), values: ["count": .number(2)]),
        ]
        let kept = DataRecords.lastWins(records)
        #expect(kept.count == 2 && kept[0].values["count"] == .number(2))
        // 23:30 UTC on 31 October is still October in London (GMT from 25 October); 31 March 23:30 UTC is 1 April BST.
        #expect(
            DataRecords.periods(records, cadence: .monthly).map(\.start) == [CivilDate(2026, 10, 1), CivilDate(2026, 11, 1)])
        #expect(
            DataRecords.periods([DataRecord(id: nil, timestamp: t("2026-03-31T23:30:00Z"), values: [:])], cadence: .quarterly).map(\.start)
                == [CivilDate(2026, 4, 1)])
    }
}

@Suite struct DataQueryTests {
    let fields = [DataField("count", .number), DataField("channel", .string)]

    func parse(_ pairs: [(String, String)]) -> Result<DataQuery, QueryInvalid> { DataQuery.parse(pairs, fields: fields) }

    @Test func everyParameterIsRead() throws {
        let q = try parse([
            ("start_at", "2026-04-01"), ("end_at", "2026-11-01T00:00:00+00:00"), ("filter_by", "channel:online"), ("filter_by", "Count:3"),
            ("period", "month"), ("group_by", "channel"), ("collect", "count:sum"), ("collect", "count:mean"), ("sort_by", "count:sum:descending"),
            ("limit", "20"),
        ]).get()
        #expect(q.startAt == Date(timeIntervalSince1970: 1_774_998_000))  // midnight BST: 23:00 UTC on 31 March
        #expect(q.endAt == Date(timeIntervalSince1970: 1_793_491_200))
        #expect(q.filters == [DataQuery.Filter(field: "channel", value: "online"), DataQuery.Filter(field: "count", value: "3")])
        #expect(q.period == .month && q.groupBy == "channel" && q.limit == 20)
        #expect(q.collect.map(\.key) == ["count:sum", "count:mean"])
        #expect(q.sort == DataQuery.Sort(field: "count:sum", descending: true))
        #expect(try parse([]).get() == DataQuery(limit: 10_000))
    }

    @Test func badParametersAreAllReported() {
        guard
            case .failure(let invalid) = parse([
                ("start_at", "yesterday"), ("filter_by", "channel"), ("period", "day"), ("group_by", "colour"), ("collect", "channel:sum"),
                ("sort_by", "count"), ("limit", "0"), ("limit", "5"), ("page", "2"),
            ])
        else {
            Issue.record("accepted")
            return
        }
        let e = invalid.errors
        #expect(
            e.map(\.pointer) == [
                "/query/start_at", "/query/filter_by", "/query/period", "/query/group_by", "/query/collect", "/query/sort_by", "/query/limit",
                "/query/limit", "/query/page",
            ])
        #expect(e[4].message == "channel is a string field: only count applies to it")
        #expect(e[7].message == "is given more than once")
        guard case .failure(let e2) = parse([("collect", "count:sum")]),
            case .failure(let e3) = parse([("period", "week"), ("sort_by", "channel:ascending")]),
            case .failure(let e4) = parse([("start_at", "2026-11-02"), ("end_at", "2026-11-01")])
        else {
            Issue.record("accepted")
            return
        }
        #expect(e2.errors.map(\.message) == ["needs period or group_by"])
        #expect(e3.errors.map(\.pointer) == ["/query/sort_by"])
        #expect(e4.errors.map(\.message) == ["must be after start_at"])
        // Filters and collects are capped, and so is the list of problems.
        guard
            case .failure(let e5) = parse(
                Array(repeating: ("filter_by", "count:1"), count: 11) + [("group_by", "channel")] + (0..<11).map { _ in ("collect", "count:sum") }),
            case .failure(let e6) = parse((0..<500).map { ("x\($0)", "1") }),
            case .failure(let e7) = parse([("start_at", "0000-01-01")])
        else {
            Issue.record("accepted")
            return
        }
        #expect(e5.errors.map(\.message) == ["is given more than 10 times"] + Array(repeating: "asks for count:sum twice", count: 10))
        #expect(e6.errors.count == 20)
        #expect(e7.errors.map(\.pointer) == ["/query/start_at"])
    }
}
