import Foundation

/// What the documentation and `callboard config check` know about one setting: its variable, the
/// flag that overrides it, the default as shown, the values it accepts and what it means.
public struct SettingDefinition: Sendable {
    /// How a value is shown in `config check` output and in error messages.
    public enum Redaction: Sendable {
        /// Shown as it is.
        case none
        /// A secret: shown only as `<redacted>`.
        case secret
        /// A URL whose password is shown as `<redacted>` (`DATABASE_URL`).
        case urlPassword
    }

    /// The environment variable.
    public var name: String
    /// The command-line flag that overrides it, as shown in the docs (`serve --port`), if any.
    public var flag: String?
    /// The default as the docs show it.
    public var defaultText: String
    /// Whether `defaultText` is the default value itself (shown as code) rather than words about it.
    public var defaultIsValue: Bool
    /// The values it accepts, in words.
    public var accepted: String
    /// What it does.
    public var help: String
    public var redaction: Redaction
    /// Whether `<name>_FILE` may name a file holding the value instead.
    public var hasFileForm: Bool
    /// Whether reading refuses an environment without it.
    public var isRequired: Bool
    /// Whether an empty value is a value (`CALLBOARD_TEAM_EMAIL=` turns team emails off); otherwise
    /// an empty variable counts as unset.
    public var emptyIsValue: Bool

    /// Whether the value is never shown.
    public var isSecret: Bool { redaction == .secret }
    /// The variable naming a file that holds the value.
    public var fileName: String { name + "_FILE" }

    /// The value as it may be shown: secrets as `<redacted>`, a URL's password as `<redacted>`.
    public func shown(_ value: String) -> String {
        switch redaction {
        case .none: return value
        case .secret: return value.isEmpty ? "" : "<redacted>"
        case .urlPassword: return Self.redactingPassword(in: value)
        }
    }

    /// `scheme://user:password@rest` → `scheme://user:<redacted>@rest`; works on text that does not parse.
    static func redactingPassword(in url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        guard let at = rest.lastIndex(of: "@") else { return url }
        let userInfo = rest[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<userInfo.index(after: colon)]) + "<redacted>" + String(rest[at...])
    }
}

/// Why a value was refused, when there is more to say than the accepted values.
public struct SettingRejected: Error, Sendable {
    public var detail: String?
    public init(_ detail: String? = nil) { self.detail = detail }
}

/// How one type of value is read from its variable's text and shown again.
public struct SettingKind<Value: Sendable>: Sendable {
    /// The values it accepts, in words (the docs' "accepted values").
    public var accepted: String
    /// Reads the variable's text; throws `SettingRejected` when the text is not acceptable.
    public var parse: @Sendable (String) throws(SettingRejected) -> Value
    /// The value as a variable would hold it (before redaction).
    public var display: @Sendable (Value) -> String

    public init(
        accepted: String, parse: @escaping @Sendable (String) throws(SettingRejected) -> Value,
        display: @escaping @Sendable (Value) -> String
    ) {
        self.accepted = accepted
        self.parse = parse
        self.display = display
    }

    /// The same values, or nothing: an empty text (where empty is a value) or an unset variable is `nil`.
    public var optional: SettingKind<Value?> {
        let parse = self.parse
        let display = self.display
        return SettingKind<Value?>(
            accepted: accepted,
            parse: { (raw: String) throws(SettingRejected) -> Value? in raw.isEmpty ? nil : try parse(raw) },
            display: { $0.map(display) ?? "" })
    }

    /// The same kind with other words for what it accepts.
    public func accepting(_ text: String) -> SettingKind {
        var copy = self
        copy.accepted = text
        return copy
    }
}

/// One catalog entry: the definition and how its value reaches its typed field in `Settings`.
public struct SettingEntry: Sendable {
    public let definition: SettingDefinition
    let apply: @Sendable (inout Settings, String) throws(SettingRejected) -> Void
    let display: @Sendable (Settings) -> String

    /// A setting read into `keyPath`. The documented default is the field's default in `Settings()`
    /// unless `default` says otherwise (in Markdown); `accepted` replaces the kind's own words.
    public static func setting<Value: Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<Settings, Value> & Sendable, _ kind: SettingKind<Value>,
        flag: String? = nil, default defaultText: String? = nil, accepted: String? = nil,
        redaction: SettingDefinition.Redaction = .none, fileForm: Bool = false, required: Bool = false, emptyIsValue: Bool = false,
        help: String
    ) -> SettingEntry {
        let value = kind.display(Settings()[keyPath: keyPath])
        let definition = SettingDefinition(
            name: name, flag: flag, defaultText: defaultText ?? (value.isEmpty ? "—" : value), defaultIsValue: defaultText == nil && !value.isEmpty,
            accepted: accepted ?? kind.accepted, help: help,
            redaction: redaction, hasFileForm: fileForm, isRequired: required, emptyIsValue: emptyIsValue)
        let parse = kind.parse
        let display = kind.display
        return SettingEntry(
            definition: definition,
            apply: { (settings: inout Settings, raw: String) throws(SettingRejected) in settings[keyPath: keyPath] = try parse(raw) },
            display: { display($0[keyPath: keyPath]) })
    }
}

// MARK: - The kinds of value

extension SettingKind where Value == Bool {
    /// true/false, 1/0, yes/no, on/off, any case.
    public static var bool: SettingKind {
        SettingKind(
            accepted: "true/false, 1/0, yes/no, on/off",
            parse: { (raw: String) throws(SettingRejected) -> Bool in
                switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
                case "true", "1", "yes", "on": return true
                case "false", "0", "no", "off": return false
                default: throw SettingRejected()
                }
            },
            display: { $0 ? "true" : "false" })
    }
}

extension SettingKind where Value == Int {
    /// A whole number in `range`.
    public static func int(_ range: ClosedRange<Int>) -> SettingKind {
        SettingKind(
            accepted: range.upperBound == .max
                ? "a whole number, at least \(range.lowerBound)" : "a whole number from \(range.lowerBound) to \(range.upperBound)",
            parse: { (raw: String) throws(SettingRejected) -> Int in
                guard let v = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(v) else { throw SettingRejected() }
                return v
            },
            display: { String($0) })
    }

    /// A whole number of at least `minimum`.
    public static func int(atLeast minimum: Int) -> SettingKind { int(minimum...Int.max) }
}

extension SettingKind where Value == Double {
    /// A number of seconds of at least `minimum`, or above it when `orEqual` is false.
    public static func seconds(atLeast minimum: Double, orEqual: Bool = true) -> SettingKind {
        SettingKind(
            accepted: orEqual ? "a number of seconds, at least \(Self.number(minimum))" : "a number of seconds greater than \(Self.number(minimum))",
            parse: { (raw: String) throws(SettingRejected) -> Double in
                guard let v = Double(raw.trimmingCharacters(in: .whitespaces)), v.isFinite, orEqual ? v >= minimum : v > minimum else {
                    throw SettingRejected()
                }
                return v
            },
            display: number)
    }

    /// `30` rather than `30.0`.
    static func number(_ v: Double) -> String {
        v.rounded() == v && abs(v) < 1e15 ? String(Int(v)) : String(v)
    }
}

extension SettingKind where Value == String {
    /// Any text that is not empty.
    public static var text: SettingKind {
        SettingKind(
            accepted: "text",
            parse: { (raw: String) throws(SettingRejected) -> String in
                guard !raw.isEmpty else { throw SettingRejected() }
                return raw
            },
            display: { $0 })
    }

    /// An http:// or https:// address with a host; a trailing slash is dropped.
    public static var httpURL: SettingKind {
        SettingKind(
            accepted: "an http:// or https:// URL",
            parse: { (raw: String) throws(SettingRejected) -> String in
                guard let c = URLComponents(string: raw), let scheme = c.scheme?.lowercased(), ["http", "https"].contains(scheme),
                    let host = c.host, !host.isEmpty
                else { throw SettingRejected() }
                return raw.hasSuffix("/") ? String(raw.dropLast()) : raw
            },
            display: { $0 })
    }

    /// The path of a file this process can read.
    public static var readableFile: SettingKind {
        SettingKind(
            accepted: "the path of a readable file",
            parse: { (raw: String) throws(SettingRejected) -> String in
                guard FileManager.default.isReadableFile(atPath: raw) else { throw SettingRejected() }
                return raw
            },
            display: { $0 })
    }
}

extension SettingKind where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// One of the enumeration's raw values, any case.
    public static var choice: SettingKind {
        let names = Value.allCases.map(\.rawValue)
        return SettingKind(
            accepted: names.dropLast().joined(separator: ", ") + (names.count > 1 ? " or " : "") + (names.last ?? ""),
            parse: { (raw: String) throws(SettingRejected) -> Value in
                guard let v = Value(rawValue: raw.trimmingCharacters(in: .whitespaces).lowercased()) else { throw SettingRejected() }
                return v
            },
            display: { $0.rawValue })
    }
}

extension SettingKind where Value == [String] {
    /// Domain names separated by commas (`gov.uk,nhs.net`), lower-cased; empty is none.
    public static var domains: SettingKind {
        SettingKind(
            accepted: "domain names separated by commas",
            parse: { (raw: String) throws(SettingRejected) -> [String] in
                let parts = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                for p in parts {
                    let labels = p.split(separator: ".", omittingEmptySubsequences: false)
                    guard labels.count >= 2,
                        labels.allSatisfy({ l in !l.isEmpty && l.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") } })
                    else { throw SettingRejected() }
                }
                return parts
            },
            display: { $0.joined(separator: ",") })
    }

    /// IP addresses separated by commas (`10.0.0.5,::1`); empty is none.
    public static var ipAddresses: SettingKind {
        SettingKind(
            accepted: "IP addresses separated by commas",
            parse: { (raw: String) throws(SettingRejected) -> [String] in
                let parts = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                guard parts.allSatisfy(ClientAddress.isIPAddress) else { throw SettingRejected() }
                return parts
            },
            display: { $0.joined(separator: ",") })
    }
}

extension SettingKind where Value == [Int] {
    /// Whole numbers separated by commas, one per label; labels in `atLeastOne` must be at least 1, the rest at least 0.
    public static func counts(_ labels: [String], atLeastOne: Set<String> = []) -> SettingKind {
        let positive = labels.filter(atLeastOne.contains)
        let rule = positive.isEmpty ? "" : " (\(positive.joined(separator: ", ")) at least 1)"
        return SettingKind(
            accepted: "\(labels.count) whole numbers separated by commas: \(labels.joined(separator: ","))\(rule)",
            parse: { (raw: String) throws(SettingRejected) -> [Int] in
                let parts = raw.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard parts.count == labels.count else { throw SettingRejected() }
                var values: [Int] = []
                for (label, part) in zip(labels, parts) {
                    guard let v = part, v >= (atLeastOne.contains(label) ? 1 : 0) else { throw SettingRejected() }
                    values.append(v)
                }
                return values
            },
            display: { $0.map(String.init).joined(separator: ",") })
    }
}

extension SettingKind where Value == Range<Int> {
    /// `HH:MM-HH:MM` as minutes after midnight, the start before the end.
    public static var timeWindow: SettingKind {
        @Sendable func minutes(_ s: Substring) -> Int? {
            let hm = s.split(separator: ":", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard hm.count == 2, let h = hm[0], let m = hm[1], (0...24).contains(h), (0..<60).contains(m), h * 60 + m <= 24 * 60 else {
                return nil
            }
            return h * 60 + m
        }
        @Sendable func clock(_ minutes: Int) -> String { String(format: "%02d:%02d", minutes / 60, minutes % 60) }
        return SettingKind(
            accepted: "HH:MM-HH:MM, the start before the end",
            parse: { (raw: String) throws(SettingRejected) -> Range<Int> in
                let ends = raw.split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count == 2, let start = minutes(ends[0]), let end = minutes(ends[1]), start < end else { throw SettingRejected() }
                return start..<end
            },
            display: { "\(clock($0.lowerBound))-\(clock($0.upperBound))" })
    }
}
