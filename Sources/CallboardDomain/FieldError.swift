/// One problem with one field of the input, addressed by an RFC 6901 JSON pointer.
public struct FieldError: Sendable, Hashable, Codable {
    public var pointer: String
    public var message: String
    public init(pointer: String, message: String) {
        self.pointer = pointer
        self.message = message
    }
}

/// Every problem found in one input; thrown only when non-empty.
public struct ValidationFailure: Error, Sendable, Equatable {
    public var errors: [FieldError]
    public init(_ errors: [FieldError]) { self.errors = errors }
}

/// Escapes one reference token for a JSON pointer (RFC 6901 §3).
/// Paths are made for every field read, so a token with nothing to escape (nearly all) is copied as it is.
public func pointer(_ base: String, _ token: String) -> String {
    guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return base + "/" + token }
    var escaped = base + "/"
    for c in token.unicodeScalars {
        switch c {
        case "~": escaped += "~0"
        case "/": escaped += "~1"
        default: escaped.unicodeScalars.append(c)
        }
    }
    return escaped
}

/// Collects field errors while an input is read, so all of them are reported at once.
public struct ErrorCollector: Sendable {
    public private(set) var errors: [FieldError] = []
    public init() {}
    public mutating func add(_ pointer: String, _ message: String) {
        errors.append(FieldError(pointer: pointer, message: message))
    }
    public mutating func add(contentsOf other: [FieldError]) { errors.append(contentsOf: other) }
    public var isEmpty: Bool { errors.isEmpty }
    public func throwIfAny() throws(ValidationFailure) {
        if !errors.isEmpty { throw ValidationFailure(errors) }
    }
}

/// Reads the fields of one JSON object: typed getters record type errors, and `finish()`
/// reports every field that was present but never asked for (unknown fields are errors).
public struct ObjectReader {
    public let base: String
    private let object: [String: JSONValue]
    private var seen: Set<String> = []
    public var errors = ErrorCollector()

    /// Returns nil (after recording an error) when `value` is not an object.
    public init?(_ value: JSONValue, at base: String, errors: inout ErrorCollector) {
        guard case .object(let object) = value else {
            errors.add(base.isEmpty ? "" : base, "must be an object, got \(value.typeName)")
            return nil
        }
        self.base = base
        self.object = object
    }

    public func path(_ key: String) -> String { pointer(base, key) }
    public var keys: [String] { object.keys.sorted() }

    public mutating func raw(_ key: String) -> JSONValue? {
        seen.insert(key)
        return object[key]
    }

    public mutating func has(_ key: String) -> Bool { object[key] != nil }

    /// A string, trimmed; records "is required" when absent or blank and `required` is set.
    /// A `singleLine` value (a name) refuses line breaks, tabs and other control characters; any
    /// other (a description) may keep line breaks but no other control character
    /// (`FieldRules.controlCharacterProblem`). Whitespace at either end is trimmed before the check.
    public mutating func string(_ key: String, required: Bool, maxLength: Int = 200, singleLine: Bool = false) -> String? {
        guard let value = raw(key), value != .null else {
            if required { errors.add(path(key), "is required") }
            return nil
        }
        guard case .string(let s) = value else {
            errors.add(path(key), "must be a string, got \(value.typeName)")
            return nil
        }
        if s.unicodeScalars.contains("\u{0}") {
            errors.add(path(key), "must not contain the NUL character")
            return nil
        }
        let trimmed = s.trimmedOfWhitespace
        if trimmed.isEmpty {
            if required { errors.add(path(key), "is required") }
            return nil
        }
        if trimmed.count > maxLength {
            errors.add(path(key), "must be at most \(maxLength) characters")
            return nil
        }
        if let p = FieldRules.controlCharacterProblem(trimmed, singleLine: singleLine) {
            errors.add(path(key), p)
            return nil
        }
        return trimmed
    }

    public mutating func bool(_ key: String, required: Bool) -> Bool? {
        guard let value = raw(key), value != .null else {
            if required { errors.add(path(key), "is required") }
            return nil
        }
        guard case .bool(let b) = value else {
            errors.add(path(key), "must be true or false, got \(value.typeName)")
            return nil
        }
        return b
    }

    public mutating func array(_ key: String, required: Bool) -> [JSONValue]? {
        guard let value = raw(key), value != .null else {
            if required { errors.add(path(key), "is required") }
            return nil
        }
        guard case .array(let a) = value else {
            errors.add(path(key), "must be an array, got \(value.typeName)")
            return nil
        }
        return a
    }

    /// One of a fixed set of strings.
    public mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type, required: Bool) -> T?
    where T.RawValue == String {
        guard let s = string(key, required: required, maxLength: 100, singleLine: true) else { return nil }
        guard let v = T(rawValue: s) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            errors.add(path(key), "must be one of: \(allowed)")
            return nil
        }
        return v
    }

    /// Records an error for each field not read; call once after reading.
    public mutating func finish() -> [FieldError] {
        for key in object.keys.sorted() where !seen.contains(key) {
            errors.add(path(key), "is not a recognised field")
        }
        return errors.errors
    }
}
